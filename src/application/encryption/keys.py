"""Payload keys: 256-bit AES keys with an id, and the ring of keys one process has loaded.

The newest key (the last one given) seals new payloads; every loaded key opens the payloads it
sealed, so a key is rotated in without downtime: load the new key everywhere (readers first),
then rotate the stored jobs (``backbone keys rotate``), then drop the old key.

A key's secret never appears in ``repr``, ``str``, logs or errors: only its id does.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

KEY_BYTES = 32  # AES-256
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
KEY_ID_RULE = "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


class PayloadKeyError(ValueError):
    """A key refused at load time. The message names the key id or entry, never the secret."""


class PayloadKey:
    __slots__ = ("_secret", "key_id")

    def __init__(self, key_id: str, secret: bytes) -> None:
        if not isinstance(key_id, str) or not KEY_ID_PATTERN.fullmatch(key_id):
            raise PayloadKeyError(f"payload key id {key_id!r} {KEY_ID_RULE}")
        if not isinstance(secret, bytes) or len(secret) != KEY_BYTES:
            raise PayloadKeyError(f"payload key {key_id}: must be exactly {KEY_BYTES} bytes (AES-256)")
        self.key_id = key_id
        self._secret = secret

    @property
    def secret(self) -> bytes:
        return self._secret

    def __repr__(self) -> str:
        return f"PayloadKey({self.key_id!r}, secret=***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PayloadKey) and (other.key_id, other._secret) == (self.key_id, self._secret)

    def __hash__(self) -> int:
        return hash(self.key_id)


class KeyRing:
    """Loaded keys, oldest first. ``newest`` seals; ``get(kid)`` opens."""

    __slots__ = ("_keys", "newest")

    def __init__(self, keys: Iterable[PayloadKey]) -> None:
        self._keys: dict[str, PayloadKey] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise PayloadKeyError(f"payload key id {key.key_id!r} is given twice")
            self._keys[key.key_id] = key
        if not self._keys:
            raise PayloadKeyError("at least one payload key is needed")
        self.newest = list(self._keys.values())[-1]

    def get(self, key_id: str) -> PayloadKey | None:
        return self._keys.get(key_id)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __iter__(self) -> Iterator[PayloadKey]:
        return iter(self._keys.values())

    def ids(self) -> list[str]:
        return list(self._keys)

    def __repr__(self) -> str:
        return f"KeyRing({', '.join(self._keys)}; newest {self.newest.key_id})"


def parse_keys(text: str, origin: str = "keys") -> list[PayloadKey]:
    """Keys from ``kid:base64`` entries separated by commas or new lines (``#`` starts a comment).

    The secret is standard or URL-safe base64 of 32 bytes (``openssl rand -base64 32``).
    """
    keys = []
    entries = [part.split("#", 1)[0].strip() for line in text.splitlines() for part in line.split(",")]
    for index, entry in enumerate(e for e in entries if e):
        key_id, colon, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not colon:
            raise PayloadKeyError(  # never echo the entry: it may be a bare secret
                f"{origin} entry {index + 1}: must be 'key-id:base64-secret'"
            )
        keys.append(PayloadKey(key_id, _decode_secret(key_id, encoded.strip())))
    return keys


def _decode_secret(key_id: str, encoded: str) -> bytes:
    try:
        if "-" in encoded or "_" in encoded:
            return base64.urlsafe_b64decode(encoded)
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadKeyError(f"payload key {key_id}: secret must be base64 of {KEY_BYTES} bytes") from None


def load_key_file(path: str | Path) -> list[PayloadKey]:
    """Keys from a file of ``kid:base64`` lines (oldest first)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PayloadKeyError(f"payload key file {file}: cannot be read ({exc.strerror})") from None
    return parse_keys(text, origin=f"key file {file}")


def encode_secret(secret: bytes) -> str:
    return base64.b64encode(secret).decode("ascii")
