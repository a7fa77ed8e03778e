"""The job model: what a producer gets back from ``add`` and what ``get_job`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domain.queue.metadata import JobMetadata
from domain.queue.options import ResolvedOptions

JsonValue = Any  # JSON-compatible data: dict, list, str, int (any size), float, bool, None


class JobState(StrEnum):
    WAITING = "waiting"
    DELAYED = "delayed"
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"  # final: the job is in the queue's dead-letter set
    REMOVED = "removed"  # only on a deduplicated add whose original job no longer exists


@dataclass(frozen=True, slots=True)
class JobProgress:
    """The seeds' structured progress (seed 003). A plain number is accepted too."""

    percentage: float
    step: str | None = None
    total_steps: int | None = None
    current_step: int | None = None
    data: dict[str, JsonValue] | None = None


Progress = float | int | JobProgress


@dataclass(frozen=True, slots=True)
class Job:
    """A snapshot of one job. Timestamps are epoch milliseconds."""

    id: str
    queue: str
    name: str
    data: JsonValue
    options: ResolvedOptions
    metadata: JobMetadata
    state: JobState
    created_at: int
    progress: Progress = 0
    return_value: JsonValue = None
    failed_reason: str | None = None
    stacktrace: tuple[str, ...] = ()
    attempts_started: int = 0
    attempts_made: int = 0
    processed_on: int | None = None
    finished_on: int | None = None
    due_at: int | None = None
    hand_backs: int = 0  # times a worker without a handler for this name handed it back
    deduplicated: bool = False
    raw_record: bytes | None = None  # original bytes of a malformed record that was dead-lettered

    @property
    def priority(self) -> int:
        return self.options.priority


@dataclass(frozen=True, slots=True)
class JobLogLine:
    """One line a handler stored with ``ctx.log(text)``: when (epoch ms, the queue's clock) and what."""

    at: int
    text: str


@dataclass(frozen=True, slots=True)
class NewJob:
    """One entry of ``add_bulk``."""

    name: str
    data: JsonValue
    options: Any = None  # JobOptions | None (kept loose to avoid an import cycle in type hints)
    metadata: JobMetadata | None = None


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Exact counts per state, plus whether the queue is paused."""

    waiting: int = 0
    delayed: int = 0
    active: int = 0
    completed: int = 0
    failed: int = 0
    paused: bool = False

    @property
    def total(self) -> int:
        return self.waiting + self.delayed + self.active + self.completed + self.failed


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A job in the dead-letter set, as an operator sees it."""

    job_id: str
    queue: str
    name: str
    reason: str
    attempts_made: int
    attempts_started: int
    failed_at: int
    last_error: str | None
    correlation_id: str
    data: JsonValue = None
    raw_record: bytes | None = None


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """Which dead letters a bulk operation touches. Every field left ``None`` matches all."""

    name: str | None = None
    reason_contains: str | None = None
    failed_after: int | None = None
    failed_before: int | None = None
    job_ids: frozenset[str] | None = field(default=None)

    def matches(self, letter: DeadLetter) -> bool:
        if self.name is not None and letter.name != self.name:
            return False
        if self.reason_contains is not None and self.reason_contains not in letter.reason:
            return False
        if self.failed_after is not None and letter.failed_at < self.failed_after:
            return False
        if self.failed_before is not None and letter.failed_at >= self.failed_before:
            return False
        return self.job_ids is None or letter.job_id in self.job_ids
