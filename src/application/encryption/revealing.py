"""``RevealingQueue``: a queue handle whose reads show the plaintext of payloads it can open.

Wrapped around a backend where queues are opened in a process that loaded payload keys. The
adapter below stores and returns only sealed data; ``get_job``, ``list_dead_letters`` and what
``add``/``add_bulk`` return are opened here, in the reader's process. A payload sealed with a key
this process did not load (or that does not open) is returned sealed, as stored: renderers say
"encrypted, key K not loaded" (``application.encryption.envelope.not_loaded_text``). ``claim`` is
passed through sealed: the worker opens a payload for the handler only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from application.hooked_queue import HookedQueue
from application.hooks import NO_HOOKS
from application.queue_backend import QueueBackend
from domain.queue.job import DeadLetter, Job, JsonValue, NewJob
from domain.queue.metadata import JobMetadata
from domain.queue.options import JobOptions

if TYPE_CHECKING:
    from application.encryption.policy import PayloadEncryption  # imports cryptography


def revealing(backend: QueueBackend, encryption: PayloadEncryption | None) -> QueueBackend:
    """``backend`` with its reads opened (itself when no key is loaded)."""
    if encryption is None or encryption.cipher is None:
        return backend
    return RevealingQueue(backend, encryption)


class RevealingQueue(HookedQueue):
    """Every operation passes through (``HookedQueue`` without hooks) except the reads below."""

    def __init__(self, backend: QueueBackend, encryption: PayloadEncryption) -> None:
        super().__init__(backend, NO_HOOKS)
        self.encryption = encryption

    def _job(self, job: Job) -> Job:
        opened = self.encryption.try_open(job.queue, job.name, job.id, job.data)
        return job if opened is job.data else dataclasses.replace(job, data=opened)

    async def add(
        self,
        name: str,
        data: JsonValue,
        options: JobOptions | None = None,
        metadata: JobMetadata | None = None,
    ) -> Job:
        return self._job(await self.inner.add(name, data, options, metadata))

    async def add_bulk(self, jobs: Sequence[NewJob]) -> list[Job]:
        return [self._job(job) for job in await self.inner.add_bulk(jobs)]

    async def get_job(self, job_id: str) -> Job | None:
        job = await self.inner.get_job(job_id)
        return None if job is None else self._job(job)

    async def list_dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        letters = await self.inner.list_dead_letters(limit, offset)
        return [self._letter(letter) for letter in letters]

    def _letter(self, letter: DeadLetter) -> DeadLetter:
        opened = self.encryption.try_open(letter.queue, letter.name, letter.job_id, letter.data)
        return letter if opened is letter.data else dataclasses.replace(letter, data=opened)
