"""``PayloadEncryption``: which jobs are sealed (opt-in per queue or per job type) and with what keys.

One object per process, shared by every queue: the producer's ``JobFactory`` seals through it,
the worker and the readers (``RevealingQueue``) open through it, ``rotate_payloads`` re-seals
with it. ``cipher`` is None in a process that loaded no key: it seals nothing and opens nothing
(readers then say "encrypted, key K not loaded").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from application.encryption.cipher import KeyNotLoadedError, PayloadCipher, PayloadDecryptionError
from application.encryption.envelope import is_sealed, sealed_key_id
from application.encryption.keys import KeyRing


class PayloadEncryption:
    def __init__(
        self,
        keys: KeyRing | None,
        *,
        queues: Iterable[str] = (),
        job_names: Iterable[str] = (),
    ) -> None:
        self.cipher = PayloadCipher(keys) if keys is not None else None
        self.queues = frozenset(queues)
        self.job_names = frozenset(job_names)
        if self.cipher is None and (self.queues or self.job_names):
            what = ", ".join(sorted(self.queues | self.job_names))
            raise ValueError(f"payload encryption is asked for ({what}) but no payload key is loaded")

    def applies(self, queue: str, name: str) -> bool:
        """Whether new jobs ``name`` on ``queue`` are sealed."""
        return queue in self.queues or name in self.job_names

    def seal(self, queue: str, name: str, job_id: str, data_json: str) -> str:
        if self.cipher is None:
            raise ValueError("no payload key is loaded")
        return self.cipher.seal(queue, name, job_id, data_json)

    def open(self, queue: str, name: str, job_id: str, data: Any) -> Any:
        """The plaintext of sealed ``data``; raises ``PayloadDecryptionError`` (``KeyNotLoadedError``
        or ``TamperedPayloadError``) when it cannot be opened here."""
        if self.cipher is None:
            raise KeyNotLoadedError(sealed_key_id(data) or "?")
        return self.cipher.open(queue, name, job_id, data)

    def try_open(self, queue: str, name: str, job_id: str, data: Any) -> Any:
        """``data`` opened if it is sealed and opens here, else ``data`` unchanged."""
        if not is_sealed(data):
            return data
        try:
            return self.open(queue, name, job_id, data)
        except PayloadDecryptionError:
            return data
