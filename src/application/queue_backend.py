"""``QueueBackend``: what the worker runtime needs from an adapter, beyond the producer port.

Every adapter implements ``IGenericQueue`` (producer side, owned by the domain) and this class
(consumer side, owned by the application). Policy stays in the worker runtime: the adapter
stores decisions (retry delay or dead letter), it does not take them.

The values adapters exchange with the worker and the job factory (``JobDraft``, ``LeaseRef``,
``ClaimedJob``, ``ClaimRequest``, ``FailureReport``) live here, with the port: the reference state
machine imports them like every adapter does, it does not own them.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from domain.queue.job import Job, Progress
from domain.queue.metadata import JobMetadata
from domain.queue.options import RateLimit, ResolvedOptions
from domain.queue.port import IGenericQueue
from domain.queue.tenancy import TenantPolicy


@dataclass(frozen=True, slots=True)
class JobDraft:
    """A validated, encoded job ready to be stored (built by ``JobFactory``, stored by ``add``)."""

    id: str
    name: str
    data_json: str
    options: ResolvedOptions
    metadata: JobMetadata
    created_at: int


PayloadRewrite = Callable[[str, str, str], str | None]
"""``rewrite(job_id, name, data_json)``: the job's new stored data (JSON text), or None to keep it."""


@dataclass(frozen=True, slots=True)
class LeaseRef:
    """Which attempt of which job a worker holds."""

    job_id: str
    token: str


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A started attempt: the job and the fencing token that proves the lease."""

    job: Job
    token: str


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    worker_id: str
    max_jobs: int
    lease_ms: int
    limiter: RateLimit | None = None
    block_ms: int = 1000  # wait at most this long for work before returning an empty batch
    tenancy: TenantPolicy | None = None  # fair share and per-tenant limits (ADR 0021)


@dataclass(frozen=True, slots=True)
class FailureReport:
    """A failed attempt. ``retry_delay_ms=None`` means: no more attempts, dead-letter it."""

    reason: str
    stacktrace: str | None
    retry_delay_ms: int | None


class QueueBackend(IGenericQueue):
    """Consumer-side operations. Leases are fenced: a stale token is refused (returns False)."""

    @abstractmethod
    async def claim(self, request: ClaimRequest) -> Sequence[ClaimedJob]:
        """Start up to ``max_jobs`` jobs (priority order, due delays promoted, limiter honoured).

        Waits up to ``block_ms`` when nothing is available; returns an empty sequence then.
        Every returned job counts as a started attempt.
        """

    @abstractmethod
    async def extend_leases(self, worker_id: str, leases: Sequence[LeaseRef], lease_ms: int) -> list[str]:
        """Renew leases; returns the ids of jobs whose lease was already lost."""

    @abstractmethod
    async def update_progress(self, lease: LeaseRef, progress: Progress) -> bool:
        """Store progress for the running attempt; False if the lease is no longer held."""

    @abstractmethod
    async def append_log(self, lease: LeaseRef, text: str) -> bool:
        """Store one ``ctx.log`` line with the running job (cut to ``MAX_LOG_LINE_CHARS``; only
        the queue's ``keep_logs`` newest lines are kept); False if the lease is no longer held.
        Raises ``InvalidOptionError`` naming ``text`` if it is not a string."""

    @abstractmethod
    async def complete(self, lease: LeaseRef, return_json: str) -> bool:
        """Mark the attempt successful; False (and nothing changed) if the lease is stale."""

    @abstractmethod
    async def fail(self, lease: LeaseRef, report: FailureReport) -> bool:
        """Record a failed attempt and store the retry decision; False if the lease is stale."""

    @abstractmethod
    async def release(self, worker_id: str, leases: Sequence[LeaseRef]) -> None:
        """Hand back reserved jobs that were never started: no attempt is counted."""

    @abstractmethod
    async def hand_back(self, lease: LeaseRef, delay_ms: int) -> bool:
        """Give back a claimed job this worker cannot run (no handler for its name, ADR 0017).

        The attempt is not counted, the job's ``hand_backs`` goes up by one, and it is ``delayed``
        for ``delay_ms`` (``waiting`` at once for 0) so that another worker may claim it. False
        (and nothing changed) if the lease is stale. Raises ``InvalidOptionError`` for a negative
        delay.
        """

    @abstractmethod
    async def rewrite_payloads(self, rewrite: PayloadRewrite) -> int:
        """Replace the stored data of every job that is not active where ``rewrite`` returns new
        JSON text (key rotation, ADR 0023); returns how many were replaced.

        ``rewrite`` runs in this process, outside the broker; each replacement is applied only if
        the job is still not active and still holds the data ``rewrite`` was given (a job a worker
        claimed meanwhile keeps its data and is not counted).
        """
