"""Kafka URLs: bootstrap servers, SASL credentials, and a password that never shows."""

from __future__ import annotations

import pytest

from adapters.kafka.settings import KafkaSettings, parse_bootstrap
from adapters.kafka.topics import QueueTopics
from application.redaction import redact_url
from domain.queue.errors import InvalidOptionError


def test_a_url_lists_every_bootstrap_server() -> None:
    assert parse_bootstrap("kafka://a:9092,b:9093") == (["a:9092", "b:9093"], None)


def test_credentials_in_the_url_become_sasl_credentials_unquoted() -> None:
    settings = KafkaSettings(url="kafka://svc:p%40ss@a:9092,b:9093")

    assert settings.sasl_credentials == ("svc", "p@ss")
    assert settings.bootstrap_servers == ["a:9092", "b:9093"]


def test_the_redacted_url_hides_the_password_even_with_several_hosts() -> None:
    redacted = KafkaSettings(url="kafka://svc:hunter2@a:9092,b:9093").redacted_url

    assert redacted == "kafka://svc:***@a:9092,b:9093"
    assert "hunter2" not in redacted


def test_a_url_without_a_password_is_shown_as_is() -> None:
    assert redact_url("kafka://a:9092") == "kafka://a:9092"


@pytest.mark.parametrize("url", ["redis://a:1", "kafka://", "kafka://host-without-port"])
def test_a_url_that_is_not_kafka_host_port_is_refused(url: str) -> None:
    with pytest.raises(InvalidOptionError):
        KafkaSettings(url=url)


def test_each_queue_has_a_log_a_snapshot_and_a_leader_topic_under_the_prefix() -> None:
    topics = QueueTopics.of("backbone", "notification-email")

    assert (topics.log, topics.snapshots, topics.leader) == (
        "backbone.notification-email.log",
        "backbone.notification-email.snapshots",
        "backbone.notification-email.leader",
    )


def test_the_log_topic_is_created_with_one_partition_and_delete_retention() -> None:
    settings = KafkaSettings(url="kafka://a:1", replication_factor=3, min_insync_replicas=2)
    log, snapshots, leader = QueueTopics.of("p", "q").definitions(settings)

    assert (log.num_partitions, log.replication_factor) == (1, 3)
    assert log.topic_configs["cleanup.policy"] == "delete"
    assert log.topic_configs["min.insync.replicas"] == "2"
    assert snapshots.topic_configs["cleanup.policy"] == "compact"
    assert leader.num_partitions == 1


def test_sasl_credentials_given_apart_from_the_url_win_over_the_urls() -> None:
    settings = KafkaSettings(
        url="kafka://url-user:url-pw@a:9092", sasl_username="svc", sasl_password="s3cret"
    )

    assert settings.sasl_credentials == ("svc", "s3cret")
    assert "s3cret" not in repr(settings)


def test_tls_verify_false_skips_the_certificate_and_hostname_checks() -> None:
    import ssl

    from adapters.kafka.connection import KafkaConnection

    settings = KafkaSettings(url="kafka://a:9093", security_protocol="SSL", tls_verify=False)
    context = KafkaConnection(settings).client_options()["ssl_context"]

    assert (context.check_hostname, context.verify_mode) == (False, ssl.CERT_NONE)
