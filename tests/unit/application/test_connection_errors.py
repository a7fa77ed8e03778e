"""A TLS failure inside a driver's exception becomes one line that names the cause."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from tests.harness.tls import make_pki

from application.connection_errors import client_tls_context, tls_failure
from domain.queue.errors import BrokerUnavailableError


class WrappedError(Exception):
    """Like pika's connector errors: the cause kept in an attribute, not in ``__cause__``."""

    def __init__(self, exception: BaseException) -> None:
        super().__init__("connector failed")
        self.exception = exception


def _verify_error(message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(
        1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}"
    )
    error.verify_message = message
    return error


def test_an_expired_certificate_deep_in_a_chain_is_named() -> None:
    outer = WrappedError(_verify_error("certificate has expired"))
    assert tls_failure(outer) == (
        "TLS: the server's certificate is not trusted (certificate has expired); "
        "check tls_ca_file and the server's certificate"
    )


def test_a_cause_chain_is_followed() -> None:
    try:
        try:
            raise _verify_error("self-signed certificate in certificate chain")
        except ssl.SSLError as exc:
            raise ConnectionError("Unable to connect") from exc
    except ConnectionError as exc:
        described = tls_failure(exc)
    assert described is not None and "not trusted (self-signed certificate in certificate chain)" in described


def test_a_reason_that_survived_only_as_text_is_named() -> None:
    text = "StreamLostError: ('[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required (_ssl.c:2580)',)"
    assert tls_failure(RuntimeError(text)) == (
        "TLS: the server requires a client certificate (tlsv13 alert certificate required); "
        "set tls_cert_file and tls_key_file"
    )


def test_an_error_that_is_not_about_tls_is_left_alone() -> None:
    assert tls_failure(ConnectionRefusedError(111, "Connection refused")) is None
    assert tls_failure(None) is None


def test_an_exception_that_wraps_itself_does_not_loop() -> None:
    error = WrappedError(RuntimeError("x"))
    error.exception = error
    assert tls_failure(error) is None


def test_a_client_context_verifies_by_default_and_presents_the_client_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    context = client_tls_context(
        "amqps://u:***@h:5671/%2F",
        ca_file=str(pki.ca_file),
        cert_file=str(pki.client.cert_file),
        key_file=str(pki.client.key_file),
    )
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_a_missing_ca_file_is_a_broker_error_naming_the_setting() -> None:
    with pytest.raises(BrokerUnavailableError) as raised:
        client_tls_context("rediss://h:6380/0", ca_file="/nonexistent/ca.crt", cert_file=None, key_file=None)
    assert (
        raised.value.reason == "TLS: cannot load tls_ca_file /nonexistent/ca.crt: No such file or directory"
    )


def test_a_key_that_does_not_match_its_certificate_is_named_without_key_material(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    with pytest.raises(BrokerUnavailableError) as raised:
        client_tls_context(
            "kafka://h:9093",
            ca_file=str(pki.ca_file),
            cert_file=str(pki.client.cert_file),
            key_file=str(pki.server.key_file),
        )
    assert "tls_cert_file" in raised.value.reason and "key values mismatch" in raised.value.reason
    assert not any(line in str(raised.value) for line in pki.key_material())
