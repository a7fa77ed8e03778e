"""Queue events: the inputs of ``QueueStateMachine``.

Every event carries its own time (``now``, epoch ms) and any randomness (ids, tokens come from
counters in the state), so that applying the same events in the same order gives the same state
in every process. The log-replicated adapters append these events to a broker log; the memory
adapter applies them directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.queue_backend import JobDraft, LeaseRef
from domain.queue.job import DeadLetterFilter, JobState, Progress
from domain.queue.options import RateLimit
from domain.queue.tenancy import TenantPolicy


@dataclass(frozen=True, slots=True)
class Add:
    drafts: tuple[JobDraft, ...]
    now: int


@dataclass(frozen=True, slots=True)
class Claim:
    worker_id: str
    max_jobs: int
    lease_ms: int
    now: int
    limiter: RateLimit | None = None
    tenancy: TenantPolicy | None = None  # fair share and per-tenant limits (ADR 0021)


@dataclass(frozen=True, slots=True)
class Extend:
    worker_id: str
    leases: tuple[LeaseRef, ...]
    lease_ms: int
    now: int


@dataclass(frozen=True, slots=True)
class UpdateProgress:
    lease: LeaseRef
    progress: Progress
    now: int


@dataclass(frozen=True, slots=True)
class Complete:
    lease: LeaseRef
    return_json: str
    now: int


@dataclass(frozen=True, slots=True)
class Fail:
    """A failed attempt. ``retry_delay_ms`` is the worker runtime's decision: ``None`` dead-letters."""

    lease: LeaseRef
    reason: str
    stacktrace: str | None
    retry_delay_ms: int | None
    now: int


@dataclass(frozen=True, slots=True)
class Release:
    """Hand back jobs a worker had reserved but not started: they keep their place and attempts."""

    worker_id: str
    leases: tuple[LeaseRef, ...]
    now: int


@dataclass(frozen=True, slots=True)
class HandBack:
    """A worker claimed a job it cannot run (no handler for its name): back to the queue after
    ``delay_ms``, the attempt not counted, ``hand_backs`` counted (ADR 0017)."""

    lease: LeaseRef
    delay_ms: int
    now: int


@dataclass(frozen=True, slots=True)
class Remove:
    job_id: str
    now: int


@dataclass(frozen=True, slots=True)
class Pause:
    now: int


@dataclass(frozen=True, slots=True)
class Resume:
    now: int


@dataclass(frozen=True, slots=True)
class Clean:
    grace_ms: int
    state: JobState
    limit: int
    now: int


@dataclass(frozen=True, slots=True)
class Drain:
    """Delete every waiting and delayed job."""

    now: int


@dataclass(frozen=True, slots=True)
class Reprocess:
    job_id: str
    now: int


@dataclass(frozen=True, slots=True)
class ReprocessAll:
    selection: DeadLetterFilter | None
    now: int


@dataclass(frozen=True, slots=True)
class PurgeDeadLetters:
    older_than_ms: int
    now: int


@dataclass(frozen=True, slots=True)
class ReplaceData:
    """Key rotation (ADR 0023): the job's data becomes ``data_json`` if it is not active and still
    holds ``expected_json``."""

    job_id: str
    expected_json: str
    data_json: str
    now: int


@dataclass(frozen=True, slots=True)
class RecordMalformed:
    """A record that could not be decoded: stored straight in the dead-letter set with its bytes."""

    job_id: str
    raw: bytes
    reason: str
    now: int


@dataclass(frozen=True, slots=True)
class AppendLog:
    """A handler's ``ctx.log`` line for the attempt it holds; only the newest ``keep`` lines stay."""

    lease: LeaseRef
    text: str
    keep: int
    now: int


@dataclass(frozen=True, slots=True)
class PutSchedule:
    """Store the run-time schedule ``name`` (``definition``: its JSON text, checked by the adding
    process) or delete it (``None``), ADR 0022."""

    name: str
    definition: str | None
    now: int


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes: promote due delayed jobs, recover expired leases, expire idempotency keys."""

    now: int


QueueEvent = (
    Add
    | Claim
    | Extend
    | UpdateProgress
    | Complete
    | Fail
    | Release
    | HandBack
    | Remove
    | Pause
    | Resume
    | Clean
    | Drain
    | Reprocess
    | ReprocessAll
    | PurgeDeadLetters
    | ReplaceData
    | RecordMalformed
    | AppendLog
    | PutSchedule
    | Tick
)
