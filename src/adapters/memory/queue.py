"""``MemoryQueue``: one queue of the embedded broker.

Every operation is one event applied to the queue's ``QueueStateMachine``: the adapter adds only
time, wake-ups for waiting claimers, and the broker's open/closed state. Production quality for
one process; several handles on one ``MemoryBroker`` share the queue (as processes share a broker).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.memory.raw_records import MalformedRecordError, decode_raw_record
from application.clock import Clock
from application.jobs.job_factory import JobFactory
from application.queue_arguments import log_line
from application.queue_backend import (
    ClaimedJob,
    ClaimRequest,
    FailureReport,
    LeaseRef,
    PayloadRewrite,
    QueueBackend,
)
from application.scheduling.stored import check_schedule_name, decode_schedules, encode_schedule
from application.state_machine import events as ev
from application.state_machine.machine import ClaimOutcome, QueueStateMachine
from domain.queue.errors import BrokerUnavailableError, InvalidJobError
from domain.queue.job import (
    DeadLetter,
    DeadLetterFilter,
    Job,
    JobLogLine,
    JobState,
    JsonValue,
    NewJob,
    Progress,
    QueueStats,
)
from domain.queue.metadata import JobMetadata
from domain.queue.options import JobOptions
from domain.queue.schedule import Schedule


@dataclass(slots=True)
class SharedQueueState:
    """What every handle on one queue name shares: the state machine and the waiting claimers."""

    machine: QueueStateMachine
    waiters: set[asyncio.Future[None]] = field(default_factory=set)
    malformed_seq: int = 0

    def wake(self) -> None:
        if self.waiters:
            for waiter in self.waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self.waiters.clear()


class MemoryQueue(QueueBackend):
    def __init__(
        self, shared: SharedQueueState, factory: JobFactory, clock: Clock, broker_state: Any
    ) -> None:
        self._shared = shared
        self._machine = shared.machine
        self._factory = factory
        self._clock = clock
        self._broker = broker_state  # has .closed

    @property
    def name(self) -> str:
        return self._factory.queue

    def _check_open(self) -> None:
        if self._broker.closed:
            raise BrokerUnavailableError("memory://", "the broker is closed")

    # --- producer side ------------------------------------------------------------------------

    async def add(
        self,
        name: str,
        data: JsonValue,
        options: JobOptions | None = None,
        metadata: JobMetadata | None = None,
    ) -> Job:
        self._check_open()
        now = self._clock()
        draft = self._factory.draft(name, data, options, metadata, now)
        job: Job = self._machine.on_add(ev.Add((draft,), now))[0]
        if not job.deduplicated:
            self._shared.wake()
        return job

    async def add_bulk(self, jobs: Sequence[NewJob]) -> list[Job]:
        self._check_open()
        now = self._clock()
        drafts = self._factory.drafts(jobs, now)
        result: list[Job] = self._machine.on_add(ev.Add(drafts, now))
        self._shared.wake()
        return result

    async def get_job(self, job_id: str) -> Job | None:
        self._tick()
        return self._machine.get(job_id)

    async def remove_job(self, job_id: str) -> bool:
        self._check_open()
        return bool(self._machine.on_remove(ev.Remove(job_id, self._clock())))

    async def rewrite_payloads(self, rewrite: PayloadRewrite) -> int:
        self._check_open()
        replaced = 0
        for job_id, name, data_json in self._machine.rewritable():
            new_json = rewrite(job_id, name, data_json)
            if new_json is not None and self._machine.on_replace_data(
                ev.ReplaceData(job_id, data_json, new_json, self._clock())
            ):
                replaced += 1
        return replaced

    async def pause(self) -> None:
        self._check_open()
        self._machine.on_pause(ev.Pause(self._clock()))

    async def resume(self) -> None:
        self._check_open()
        self._machine.on_resume(ev.Resume(self._clock()))
        self._shared.wake()

    async def is_paused(self) -> bool:
        self._check_open()
        return self._machine.paused

    async def clean(self, grace_ms: int, state: JobState, limit: int = 1000) -> int:
        self._check_open()
        return int(self._machine.on_clean(ev.Clean(grace_ms, state, limit, self._clock())))

    async def drain(self) -> int:
        self._check_open()
        return int(self._machine.on_drain(ev.Drain(self._clock())))

    async def get_stats(self) -> QueueStats:
        self._tick()
        return self._machine.stats()

    async def list_jobs(self, state: JobState, limit: int = 100, offset: int = 0) -> list[Job]:
        self._tick()
        return self._machine.list_jobs(state, limit, offset)

    async def get_job_logs(self, job_id: str) -> list[JobLogLine] | None:
        self._tick()
        return self._machine.job_logs(job_id)

    async def list_dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        self._tick()
        return self._machine.dead_letters(limit, offset)

    async def reprocess_dead_letter(self, job_id: str) -> bool:
        self._check_open()
        revived = bool(self._machine.on_reprocess(ev.Reprocess(job_id, self._clock())))
        if revived:
            self._shared.wake()
        return revived

    async def reprocess_dead_letters(self, selection: DeadLetterFilter | None = None) -> int:
        self._check_open()
        count = int(self._machine.on_reprocess_all(ev.ReprocessAll(selection, self._clock())))
        if count:
            self._shared.wake()
        return count

    async def purge_dead_letters(self, older_than_ms: int) -> int:
        self._check_open()
        return int(self._machine.on_purge_dead_letters(ev.PurgeDeadLetters(older_than_ms, self._clock())))

    async def upsert_schedule(self, schedule: Schedule) -> Schedule:
        self._check_open()
        now = self._clock()
        checked, text = encode_schedule(schedule, self._factory, now)
        self._machine.on_put_schedule(ev.PutSchedule(checked.name, text, now))
        return checked

    async def remove_schedule(self, name: str) -> bool:
        self._check_open()
        return self._machine.on_put_schedule(ev.PutSchedule(check_schedule_name(name), None, self._clock()))

    async def list_schedules(self) -> list[Schedule]:
        self._check_open()
        return decode_schedules(self.name, self._machine.schedules)

    async def close(self) -> None:
        """Handles hold no connection; closing one is a no-op (the broker owns the state)."""

    # --- consumer side ------------------------------------------------------------------------

    async def claim(self, request: ClaimRequest) -> Sequence[ClaimedJob]:
        self._check_open()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.block_ms / 1000
        while True:
            now = self._clock()
            outcome: ClaimOutcome = self._machine.on_claim(
                ev.Claim(
                    request.worker_id,
                    request.max_jobs,
                    request.lease_ms,
                    now,
                    request.limiter,
                    request.tenancy,
                )
            )
            if outcome.jobs:
                return outcome.jobs
            remaining = deadline - loop.time()
            if remaining <= 0:
                return ()
            wake_at = _earliest(outcome.wake_at, self._machine.next_wake_at())
            if wake_at is not None:
                remaining = min(remaining, max(0.0, (wake_at - now) / 1000) + 0.001)
            waiter: asyncio.Future[None] = loop.create_future()
            self._shared.waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                self._shared.waiters.discard(waiter)
            self._check_open()

    async def extend_leases(self, worker_id: str, leases: Sequence[LeaseRef], lease_ms: int) -> list[str]:
        self._check_open()
        lost: list[str] = self._machine.on_extend(
            ev.Extend(worker_id, tuple(leases), lease_ms, self._clock())
        )
        return lost

    async def update_progress(self, lease: LeaseRef, progress: Progress) -> bool:
        self._check_open()
        return bool(self._machine.on_update_progress(ev.UpdateProgress(lease, progress, self._clock())))

    async def append_log(self, lease: LeaseRef, text: str) -> bool:
        self._check_open()
        event = ev.AppendLog(lease, log_line(text), self._factory.defaults.keep_logs, self._clock())
        return bool(self._machine.on_append_log(event))

    async def complete(self, lease: LeaseRef, return_json: str) -> bool:
        self._check_open()
        done = bool(self._machine.on_complete(ev.Complete(lease, return_json, self._clock())))
        if done and self._machine.tenancy is not None:
            self._shared.wake()  # a tenant at its active limit may run its next job now
        return done

    async def fail(self, lease: LeaseRef, report: FailureReport) -> bool:
        self._check_open()
        outcome = self._machine.on_fail(
            ev.Fail(lease, report.reason, report.stacktrace, report.retry_delay_ms, self._clock())
        )
        if outcome.accepted and (outcome.state is JobState.WAITING or self._machine.tenancy is not None):
            self._shared.wake()
        return outcome.accepted

    async def release(self, worker_id: str, leases: Sequence[LeaseRef]) -> None:
        self._check_open()
        if self._machine.on_release(ev.Release(worker_id, tuple(leases), self._clock())):
            self._shared.wake()

    async def hand_back(self, lease: LeaseRef, delay_ms: int) -> bool:
        self._check_open()
        outcome = self._machine.on_hand_back(ev.HandBack(lease, delay_ms, self._clock()))
        if outcome.accepted:
            self._shared.wake()  # waiting at once, or delayed: blocked claimers re-read when it falls due
        return outcome.accepted

    # --- raw records (what a client bypassing the port could hand the broker) -------------------

    def accept_raw_record(self, raw: bytes) -> Job:
        """Store a record from outside the port; anything malformed is dead-lettered with a reason."""
        self._check_open()
        now = self._clock()
        try:
            record = decode_raw_record(raw)
            options = JobOptions(job_id=record.job_id) if record.job_id else None
            draft = self._factory.draft(record.name, record.data, options, None, now)
        except (MalformedRecordError, InvalidJobError) as exc:
            return self._dead_letter_raw(raw, str(exc), now)
        except Exception as exc:  # any other failure of any type: the same rule, never a crash
            return self._dead_letter_raw(raw, f"{type(exc).__name__}: {exc}"[:300], now)
        added: Job = self._machine.on_add(ev.Add((draft,), now))[0]
        self._shared.wake()
        return added

    def _dead_letter_raw(self, raw: bytes, reason: str, now: int) -> Job:
        self._shared.malformed_seq += 1
        job_id = f"malformed-{now}-{self._shared.malformed_seq}"
        job: Job = self._machine.on_record_malformed(ev.RecordMalformed(job_id, raw, reason, now))
        return job

    def _tick(self) -> None:
        self._check_open()
        self._machine.on_tick(ev.Tick(self._clock()))


def _earliest(first: int | None, second: int | None) -> int | None:
    if first is None:
        return second
    if second is None:
        return first
    return min(first, second)
