"""The port every domain service enqueues through: ``IGenericQueue`` (seed 002, in Python spelling).

One instance is one named queue. Every adapter (memory, Redis, RabbitMQ, Kafka) implements this
class and passes the shared contract suite (``tests/contract``); see ``docs/queue-contract.md``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from domain.queue.job import (
    DeadLetter,
    DeadLetterFilter,
    Job,
    JobLogLine,
    JobState,
    JsonValue,
    NewJob,
    QueueStats,
)
from domain.queue.metadata import JobMetadata
from domain.queue.options import JobOptions
from domain.queue.schedule import Schedule


class IGenericQueue(ABC):
    """An asynchronous job queue. All methods are coroutines and safe to call concurrently."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The queue's name (``transaction-processing``, ``notification-email``, ...)."""

    # --- producer side ------------------------------------------------------------------------

    @abstractmethod
    async def add(
        self,
        name: str,
        data: JsonValue,
        options: JobOptions | None = None,
        metadata: JobMetadata | None = None,
    ) -> Job:
        """Store one job and return it (state ``waiting``, or ``delayed`` when ``options.delay > 0``).

        A ``job_id`` or ``idempotency_key`` that is already known returns the existing job with
        ``deduplicated=True`` and stores nothing. Invalid input raises an ``InvalidJobError``
        subclass naming the field and the rule; nothing is stored then.
        """

    @abstractmethod
    async def add_bulk(self, jobs: Sequence[NewJob]) -> list[Job]:
        """Add many jobs; the result is in the order given. Each behaves as if added alone.

        Validation happens for every entry first: if one is invalid, none is stored.
        """

    @abstractmethod
    async def get_job(self, job_id: str) -> Job | None:
        """The job as it is now, or ``None`` if it does not exist (or was removed)."""

    @abstractmethod
    async def remove_job(self, job_id: str) -> bool:
        """Delete a waiting, delayed, completed or failed job. Active jobs are not removed (False)."""

    # --- queue operations ---------------------------------------------------------------------

    @abstractmethod
    async def pause(self) -> None:
        """Once this returns, no job becomes active in any process until ``resume``."""

    @abstractmethod
    async def resume(self) -> None:
        """Let workers take jobs again."""

    @abstractmethod
    async def is_paused(self) -> bool:
        """Whether the queue is paused."""

    @abstractmethod
    async def clean(self, grace_ms: int, state: JobState, limit: int = 1000) -> int:
        """Remove up to ``limit`` completed or failed jobs finished more than ``grace_ms`` ago."""

    @abstractmethod
    async def drain(self) -> int:
        """Delete every waiting and delayed job; returns how many. Active, completed and failed
        jobs (dead letters) stay. Their idempotency keys stay, as with ``remove_job``."""

    @abstractmethod
    async def get_stats(self) -> QueueStats:
        """Exact counts per state and the paused flag."""

    # --- inspection (ADR 0026) ----------------------------------------------------------------

    @abstractmethod
    async def list_jobs(self, state: JobState, limit: int = 100, offset: int = 0) -> list[Job]:
        """A page of the jobs in one state: ``waiting`` in claim order, ``delayed`` by due time,
        ``active`` most recently started first, ``completed`` and ``failed`` newest first (``failed``
        in the order of ``list_dead_letters``). Raises ``InvalidOptionError`` naming ``state``,
        ``limit`` or ``offset`` for a state that is not one of these five or a negative number."""

    @abstractmethod
    async def get_job_logs(self, job_id: str) -> list[JobLogLine] | None:
        """The lines handlers stored with ``ctx.log``, oldest first (at most the queue's
        ``keep_logs``); ``None`` if the job does not exist. Removed with the job."""

    # --- dead letters (the seeds' ``<queue>-dlq``) ---------------------------------------------

    @abstractmethod
    async def list_dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        """Dead letters, newest first, with reason, attempts and last error."""

    @abstractmethod
    async def reprocess_dead_letter(self, job_id: str) -> bool:
        """Put one dead letter back to ``waiting`` with fresh attempts. False if it is not one."""

    @abstractmethod
    async def reprocess_dead_letters(self, selection: DeadLetterFilter | None = None) -> int:
        """Put every matching dead letter back to ``waiting``; returns how many."""

    @abstractmethod
    async def purge_dead_letters(self, older_than_ms: int) -> int:
        """Delete dead letters that failed more than ``older_than_ms`` ago; returns how many."""

    # --- run-time schedules (ADR 0022) ----------------------------------------------------------

    @abstractmethod
    async def upsert_schedule(self, schedule: Schedule) -> Schedule:
        """Store ``schedule`` on the broker (replacing one of the same name) for every process's
        scheduler to add its slots to this queue. Its job must be one this queue takes and its
        data a valid payload; a bad cron expression, interval, job or data raises an
        ``InvalidJobError`` naming ``schedules.<name>.<field>`` and stores nothing."""

    @abstractmethod
    async def remove_schedule(self, name: str) -> bool:
        """Delete the run-time schedule ``name``; no slot is added for it afterwards. False if unknown."""

    @abstractmethod
    async def list_schedules(self) -> list[Schedule]:
        """The run-time schedules stored for this queue, by name (module-declared ones are not here)."""

    # --- lifecycle ----------------------------------------------------------------------------

    @abstractmethod
    async def close(self) -> None:
        """Release connections. Idempotent."""
