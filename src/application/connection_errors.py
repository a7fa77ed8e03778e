"""One readable line for a TLS failure buried in a driver's exception chain.

Drivers wrap the ``ssl`` error of a failed handshake in their own exceptions (pika several levels
deep, sometimes only as text). ``tls_failure`` digs it out so an adapter can say *why* it could not
connect: "the server's certificate is not trusted (certificate has expired)", never a class name.
Certificates and keys are never part of the text: only OpenSSL's reason.
"""

from __future__ import annotations

import re
import ssl

from domain.queue.errors import BrokerUnavailableError

_OPENSSL_REASON = re.compile(r"\[[A-Z0-9_]+: [A-Z0-9_]+\] (?P<reason>[^(\]\[]+?)\s*\(_ssl\.c")
_NOT_TRUSTED = "the server's certificate is not trusted"
_MAX_DEPTH = 8


def client_tls_context(
    broker: str,
    *,
    ca_file: str | None,
    cert_file: str | None,
    key_file: str | None,
    verify: bool = True,
) -> ssl.SSLContext:
    """A client ``SSLContext``: trusts ``ca_file`` (None: the system trust store), presents
    ``cert_file``/``key_file`` when given (mutual TLS), verifies certificate and hostname unless
    ``verify`` is False. A file that cannot be read or a key that does not match its certificate is
    a ``BrokerUnavailableError`` naming the setting (``broker`` is the redacted URL)."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise BrokerUnavailableError(broker, f"TLS: cannot load tls_ca_file {ca_file}: {_why(exc)}") from None
    if cert_file:
        try:
            context.load_cert_chain(cert_file, key_file)
        except (OSError, ssl.SSLError) as exc:
            reason = f"TLS: cannot load tls_cert_file {cert_file} / tls_key_file {key_file}: {_why(exc)}"
            raise BrokerUnavailableError(broker, reason) from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _why(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        return _openssl_reason(str(exc)) or str(exc.reason or type(exc).__name__)
    return exc.strerror or type(exc).__name__


def tls_failure(exc: BaseException | None) -> str | None:
    """``"TLS: ..."`` when ``exc`` (or anything it wraps) is a TLS handshake failure, else None."""
    found = _find_ssl_error(exc, 0, set())
    if isinstance(found, ssl.SSLCertVerificationError):
        detail = found.verify_message or "certificate verify failed"
        return f"TLS: {_NOT_TRUSTED} ({detail}); check tls_ca_file and the server's certificate"
    if isinstance(found, ssl.SSLError):
        return _describe(_openssl_reason(str(found)) or found.reason or type(found).__name__)
    match = _OPENSSL_REASON.search(str(exc)) if exc is not None else None
    if match is not None:  # only the text survived (pika turns some errors into strings)
        return _describe(match.group("reason"))
    return None


def _describe(reason: str) -> str:
    if "certificate verify failed" in reason:
        return f"TLS: {_NOT_TRUSTED} ({reason}); check tls_ca_file and the server's certificate"
    if "certificate required" in reason:
        return f"TLS: the server requires a client certificate ({reason}); set tls_cert_file and tls_key_file"
    if "unknown ca" in reason or "bad certificate" in reason or "certificate expired" in reason:
        return f"TLS: the server refused the client certificate ({reason})"
    return f"TLS handshake failed ({reason})"


def _openssl_reason(text: str) -> str | None:
    match = _OPENSSL_REASON.search(text)
    return match.group("reason") if match is not None else None


def _find_ssl_error(exc: object, depth: int, seen: set[int]) -> ssl.SSLError | None:
    if not isinstance(exc, BaseException) or depth > _MAX_DEPTH or id(exc) in seen:
        return None
    seen.add(id(exc))
    if isinstance(exc, ssl.SSLError):
        return exc
    nested: list[object] = [exc.__cause__, exc.__context__, getattr(exc, "exception", None)]
    nested += list(getattr(exc, "exceptions", None) or ())
    nested += [arg for arg in exc.args if isinstance(arg, BaseException)]
    for inner in nested:
        found = _find_ssl_error(inner, depth + 1, seen)
        if found is not None:
            return found
    return None
