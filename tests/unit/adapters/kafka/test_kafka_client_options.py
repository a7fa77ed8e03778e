"""What the Kafka adapter hands aiokafka for TLS and SASL (real Apache Kafka's SSL / SASL_SSL)."""

from __future__ import annotations

import ssl

from adapters.kafka.connection import KafkaConnection
from adapters.kafka.settings import KafkaSettings


def test_sasl_ssl_with_scram_passes_the_url_credentials_and_a_verifying_tls_context() -> None:
    settings = KafkaSettings(
        url="kafka://app:pa55@k1:9093,k2:9093", security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512"
    )
    options = KafkaConnection(settings).client_options()
    assert options["bootstrap_servers"] == ["k1:9093", "k2:9093"]
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "SCRAM-SHA-512",
        "app",
        "pa55",
    )
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_tls_verify_false_turns_certificate_and_hostname_checks_off() -> None:
    settings = KafkaSettings(url="kafka://k1:9093", security_protocol="SSL", tls_verify=False)
    context = KafkaConnection(settings).client_options()["ssl_context"]
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname


def test_plaintext_has_no_tls_context_and_no_credentials() -> None:
    options = KafkaConnection(KafkaSettings(url="kafka://k1:9092")).client_options()
    assert "ssl_context" not in options and "sasl_plain_password" not in options


def test_every_client_of_a_connection_shares_one_tls_context() -> None:
    connection = KafkaConnection(KafkaSettings(url="kafka://k1:9093", security_protocol="SSL"))
    assert connection.client_options()["ssl_context"] is connection.client_options()["ssl_context"]
