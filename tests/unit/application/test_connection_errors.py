"""A TLS failure inside a driver's exception becomes one line that names the cause."""

from __future__ import annotations

import ssl

from application.connection_errors import tls_failure


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
