"""The stored form of an encrypted payload: a JSON object every broker stores like any other data.

``{"$encrypted": {"v": 1, "alg": "A256GCM", "kid": "2026-12", "iv": "<base64>", "ct": "<base64>"}}``

``kid`` names the key that sealed it (several keys may be loaded at once, ADR 0023); ``iv`` is the
96-bit GCM nonce, ``ct`` the ciphertext with its 128-bit tag. This module needs no crypto library:
it only recognises sealed data and reads its key id (the worker and the CLI use it to say
"encrypted, key K not loaded").
"""

from __future__ import annotations

from typing import Any

ENVELOPE_FIELD = "$encrypted"
ENVELOPE_VERSION = 1
ALGORITHM = "A256GCM"


def is_sealed(data: Any) -> bool:
    """Whether stored ``data`` is an encrypted payload envelope."""
    return isinstance(data, dict) and len(data) == 1 and ENVELOPE_FIELD in data


def sealed_key_id(data: Any) -> str | None:
    """The key id of sealed ``data`` (None if it is not sealed or names no key)."""
    if not is_sealed(data):
        return None
    body = data[ENVELOPE_FIELD]
    kid = body.get("kid") if isinstance(body, dict) else None
    return kid if isinstance(kid, str) else None


def not_loaded_text(data: Any) -> str:
    """What a reader without the key shows instead of the payload."""
    return f"encrypted, key {sealed_key_id(data) or '?'} not loaded"


def associated_data(queue: str, name: str, job_id: str) -> bytes:
    """What a ciphertext is bound to: it decrypts only as the payload of this job of this queue."""
    return f"backbone-payload-v{ENVELOPE_VERSION}\x1f{queue}\x1f{name}\x1f{job_id}".encode()


class PayloadDecryptionError(Exception):
    """Stored encrypted data could not be opened; the message says why (never the key)."""


class KeyNotLoadedError(PayloadDecryptionError):
    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(f"encrypted, key {key_id} not loaded")


class TamperedPayloadError(PayloadDecryptionError):
    """The envelope is malformed, or its ciphertext was changed, cut short or moved to another job."""
