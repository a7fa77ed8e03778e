"""The process's ``PayloadEncryption`` from ``[encryption]`` settings (ADR 0023)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bootstrap.settings import EncryptionSettings, SettingsError

if TYPE_CHECKING:
    from application.encryption.policy import PayloadEncryption


def payload_encryption(settings: EncryptionSettings) -> PayloadEncryption | None:
    """None when no key is configured and nothing asks for encryption (``cryptography`` is then not
    imported). Raises ``SettingsError`` naming the setting for a bad key, a missing file or an
    encrypted queue without keys; the message never holds a secret."""
    if settings.keys is None and settings.keys_file is None:
        if settings.queues or settings.job_names:
            raise SettingsError(
                "encryption.keys",
                "must be set (or encryption.keys_file) when encryption.queues or encryption.job_names is",
            )
        return None
    try:
        from application.encryption.keys import KeyRing, PayloadKeyError, load_key_file, parse_keys
        from application.encryption.policy import PayloadEncryption
    except ImportError as exc:
        raise SettingsError("encryption", str(exc)) from None
    try:
        keys = []
        if settings.keys_file is not None:
            keys.extend(load_key_file(settings.keys_file))
        if settings.keys is not None:
            keys.extend(parse_keys(settings.keys.get_secret_value(), origin="encryption.keys"))
        ring = KeyRing(keys)
    except PayloadKeyError as exc:
        field = (
            "encryption.keys_file"
            if settings.keys_file is not None and "file" in str(exc)
            else "encryption.keys"
        )
        raise SettingsError(field, str(exc)) from None
    return PayloadEncryption(ring, queues=settings.queues, job_names=settings.job_names)
