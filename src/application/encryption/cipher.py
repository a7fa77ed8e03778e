"""``PayloadCipher``: seals a payload's JSON text into an envelope and opens it again (AES-256-GCM).

The associated data binds each ciphertext to its queue, job name and job id: a ciphertext copied
into another job, another job type or another queue does not open (ADR 0023). A ciphertext that
was changed or cut short does not open either: both raise ``TamperedPayloadError``, which the
worker treats as a permanent failure (the job is dead-lettered with that reason).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from application.encryption.envelope import (
    ALGORITHM,
    ENVELOPE_FIELD,
    ENVELOPE_VERSION,
    KeyNotLoadedError,
    PayloadDecryptionError,
    TamperedPayloadError,
    associated_data,
    is_sealed,
    sealed_key_id,
)

__all__ = ["KeyNotLoadedError", "PayloadCipher", "PayloadDecryptionError", "TamperedPayloadError"]
from application.encryption.keys import KeyRing, PayloadKey
from application.state_machine.stored_json import decode_stored_json

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError as exc:  # pragma: no cover - the [crypto] extra is missing
    raise ImportError(
        "payload encryption needs the 'cryptography' package: pip install 'messaging-backbone[crypto]'"
    ) from exc

NONCE_BYTES = 12


class PayloadCipher:
    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys
        self._aead: dict[str, AESGCM] = {key.key_id: AESGCM(key.secret) for key in keys}

    def seal(self, queue: str, name: str, job_id: str, data_json: str) -> str:
        """The envelope (JSON text) of ``data_json`` sealed with the newest key."""
        key = self.keys.newest
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[key.key_id].encrypt(
            nonce, data_json.encode("utf-8"), associated_data(queue, name, job_id)
        )
        envelope = {
            ENVELOPE_FIELD: {
                "v": ENVELOPE_VERSION,
                "alg": ALGORITHM,
                "kid": key.key_id,
                "iv": _b64(nonce),
                "ct": _b64(sealed),
            }
        }
        return json.dumps(envelope, separators=(",", ":"))

    def open_json(self, queue: str, name: str, job_id: str, data: Any) -> str:
        """The plaintext JSON text of sealed ``data`` (a decoded envelope)."""
        if not is_sealed(data):
            raise TamperedPayloadError("encrypted payload envelope is malformed")
        body = data[ENVELOPE_FIELD]
        if not isinstance(body, dict) or body.get("v") != ENVELOPE_VERSION or body.get("alg") != ALGORITHM:
            raise TamperedPayloadError(
                f"encrypted payload envelope is malformed (expected version {ENVELOPE_VERSION}, {ALGORITHM})"
            )
        key_id = sealed_key_id(data)
        if key_id is None:
            raise TamperedPayloadError("encrypted payload envelope names no key")
        aead = self._aead.get(key_id)
        if aead is None:
            raise KeyNotLoadedError(key_id)
        nonce, sealed = _unb64(body.get("iv")), _unb64(body.get("ct"))
        if nonce is None or sealed is None or len(nonce) != NONCE_BYTES:
            raise TamperedPayloadError(f"encrypted payload (key {key_id}) is malformed or truncated")
        try:
            plain = aead.decrypt(nonce, sealed, associated_data(queue, name, job_id))
        except InvalidTag:
            raise TamperedPayloadError(
                f"encrypted payload (key {key_id}) failed authentication: tampered, truncated "
                "or not sealed for this job"
            ) from None
        return plain.decode("utf-8")

    def open(self, queue: str, name: str, job_id: str, data: Any) -> Any:
        """The plaintext value of sealed ``data``."""
        text = self.open_json(queue, name, job_id, data)
        try:
            return decode_stored_json(text)
        except Exception:
            raise TamperedPayloadError("decrypted payload is not valid JSON") from None

    def is_current(self, data: Any) -> bool:
        """Whether sealed ``data`` is sealed with the newest key (nothing to rotate)."""
        return sealed_key_id(data) == self.keys.newest.key_id

    def key(self, key_id: str) -> PayloadKey | None:
        return self.keys.get(key_id)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
