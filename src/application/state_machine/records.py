"""The state machine's own mutable job record, and its conversion to the domain ``Job`` snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from application.state_machine.stored_json import decode_stored_json
from domain.queue.job import DeadLetter, Job, JobState, Progress
from domain.queue.metadata import JobMetadata
from domain.queue.options import Backoff, KeepJobs, ResolvedOptions

MAX_STACKTRACES = 10
MALFORMED_JOB_NAME = "malformed.record.v1"
# A malformed record is stored straight in the dead-letter set: one attempt, kept until purged.
MALFORMED_OPTIONS = ResolvedOptions(
    delay=0,
    attempts=1,
    priority=10,
    backoff=Backoff(),
    timeout=None,
    remove_on_complete=KeepJobs(),
    remove_on_fail=KeepJobs(),
    job_id=None,
    idempotency_key=None,
    idempotency_ttl=1,
)


_DECODE: Any = object()  # "decode data_json" (None is a valid decoded value)


@dataclass(slots=True)
class JobRecord:
    id: str
    name: str
    data_json: str | None
    options: ResolvedOptions
    metadata: JobMetadata
    created_at: int
    state: JobState
    seq: int = 0  # position among jobs of the same priority (FIFO)
    due_at: int | None = None
    progress: Progress = 0
    return_json: str | None = None
    failed_reason: str | None = None
    stacktrace: list[str] = field(default_factory=list)
    attempts_started: int = 0
    attempts_made: int = 0
    stalled_count: int = 0
    hand_backs: int = 0  # times a worker without a handler for the name gave it back (ADR 0017)
    processed_on: int | None = None
    finished_on: int | None = None
    lease_owner: str | None = None
    lease_token: str | None = None
    lease_number: int = 0
    lease_until: int | None = None
    raw_record: bytes | None = None
    logs: list[tuple[int, str]] = field(default_factory=list)  # ctx.log lines (at, text), oldest first

    def to_job(self, queue: str, *, deduplicated: bool = False, data: Any = _DECODE) -> Job:
        """The domain snapshot. ``data``: the already decoded data, when the caller has it.

        Decoding cannot fail: the state machine only stores JSON that passed ``decode_stored_json``.
        """
        if data is _DECODE:
            data = None if self.data_json is None else decode_stored_json(self.data_json)
        return Job(
            id=self.id,
            queue=queue,
            name=self.name,
            data=data,
            options=self.options,
            metadata=self.metadata,
            state=self.state,
            created_at=self.created_at,
            progress=self.progress,
            return_value=None if self.return_json is None else decode_stored_json(self.return_json),
            failed_reason=self.failed_reason,
            stacktrace=tuple(self.stacktrace),
            attempts_started=self.attempts_started,
            attempts_made=self.attempts_made,
            processed_on=self.processed_on,
            finished_on=self.finished_on,
            due_at=self.due_at,
            hand_backs=self.hand_backs,
            deduplicated=deduplicated,
            raw_record=self.raw_record,
        )

    def to_dead_letter(self, queue: str) -> DeadLetter:
        return DeadLetter(
            job_id=self.id,
            queue=queue,
            name=self.name,
            reason=self.failed_reason or "",
            attempts_made=self.attempts_made,
            attempts_started=self.attempts_started,
            failed_at=self.finished_on or self.created_at,
            last_error=self.stacktrace[-1] if self.stacktrace else None,
            correlation_id=self.metadata.correlation_id or "",
            data=None if self.data_json is None else decode_stored_json(self.data_json),
            raw_record=self.raw_record,
        )
