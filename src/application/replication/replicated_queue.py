"""``ReplicatedQueue``: the whole ``QueueBackend`` over a ``ReplicationEngine``.

Writes append an event and return the state machine's decision on it; reads go through the
engine's barrier. ``claim`` appends a ``Claim`` only when the local replica shows claimable work
(or a due delay/lease), and otherwise waits for the replica to change, so idle workers do not
flood the log.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import Any

from application.jobs.job_factory import JobFactory
from application.queue_arguments import (
    clean_arguments,
    hand_back_arguments,
    list_arguments,
    log_line,
    page_arguments,
    purge_arguments,
)
from application.queue_backend import (
    ClaimedJob,
    ClaimRequest,
    FailureReport,
    JobDraft,
    LeaseRef,
    PayloadRewrite,
    QueueBackend,
)
from application.replication.engine import ReplicationEngine
from application.replication.replica import wait_for_change
from application.scheduling.stored import check_schedule_name, decode_schedules, encode_schedule
from application.state_machine import events as ev
from application.state_machine.machine import ClaimOutcome, FailOutcome, QueueStateMachine
from domain.queue.job import (
    DeadLetter,
    DeadLetterFilter,
    Job,
    JobLogLine,
    JobProgress,
    JobState,
    JsonValue,
    NewJob,
    Progress,
    QueueStats,
)
from domain.queue.metadata import JobMetadata
from domain.queue.options import JobOptions
from domain.queue.schedule import Schedule

ADD_CHUNK_BYTES = 256 * 1024  # drafts of one add_bulk are split into Add events of about this size


class ReplicatedQueue(QueueBackend):
    """One handle on a replicated queue. Handles of one process share the engine."""

    def __init__(self, factory: JobFactory, engine: ReplicationEngine) -> None:
        self._factory = factory
        self._engine = engine
        self._clock = engine.clock
        self._closed = False

    @property
    def name(self) -> str:
        return self._factory.queue

    @property
    def engine(self) -> ReplicationEngine:
        return self._engine

    # --- producer side --------------------------------------------------------------------------

    async def add(
        self,
        name: str,
        data: JsonValue,
        options: JobOptions | None = None,
        metadata: JobMetadata | None = None,
    ) -> Job:
        now = self._clock()
        draft = self._factory.draft(name, data, options, metadata, now)
        engine = self._engine
        event = ev.Add(drafts=(draft,), now=now)
        if engine.blind_appends and not engine.has_replica and _needs_no_state(draft):
            blind: list[Job] = await engine.post_blind(event, _fresh_outcome(self.name, event))
            return blind[0]
        await engine.ensure_replica()
        if draft.options.delay == 0:
            engine.announce_work()
        jobs: list[Job] = await engine.submit(event)
        return jobs[0]

    async def add_bulk(self, jobs: Sequence[NewJob]) -> list[Job]:
        now = self._clock()
        drafts = self._factory.drafts(jobs, now)
        engine = self._engine
        events = [ev.Add(drafts=chunk, now=now) for chunk in _chunks(drafts)]
        if engine.blind_appends and not engine.has_replica and all(map(_needs_no_state, drafts)):
            futures = [engine.post_blind(event, _fresh_outcome(self.name, event)) for event in events]
            return [job for future in futures for job in await future]
        await engine.ensure_replica()
        if any(draft.options.delay == 0 for draft in drafts):
            engine.announce_work()
        posted = [engine.post(event) for event in events]
        result: list[Job] = []
        for nonce, future in posted:
            result.extend(await engine.outcome(nonce, future))
        return result

    async def get_job(self, job_id: str) -> Job | None:
        return (await self._engine.sync()).get(job_id)

    async def remove_job(self, job_id: str) -> bool:
        removed: bool = await self._submit(ev.Remove(job_id=job_id, now=self._clock()))
        return removed

    async def rewrite_payloads(self, rewrite: PayloadRewrite) -> int:
        candidates = (await self._engine.sync()).rewritable()
        replaced = 0
        for job_id, name, data_json in candidates:
            new_json = rewrite(job_id, name, data_json)
            if new_json is None:
                continue
            event = ev.ReplaceData(
                job_id=job_id, expected_json=data_json, data_json=new_json, now=self._clock()
            )
            if await self._engine.submit(event):
                replaced += 1
        return replaced

    # --- queue operations -----------------------------------------------------------------------

    async def pause(self) -> None:
        await self._submit(ev.Pause(now=self._clock()))

    async def resume(self) -> None:
        await self._submit(ev.Resume(now=self._clock()))

    async def is_paused(self) -> bool:
        return (await self._engine.sync()).paused

    async def clean(self, grace_ms: int, state: JobState, limit: int = 1000) -> int:
        state = clean_arguments(grace_ms, state, limit)
        event = ev.Clean(grace_ms=grace_ms, state=state, limit=limit, now=self._clock())
        cleaned: int = await self._submit(event)
        return cleaned

    async def drain(self) -> int:
        drained: int = await self._submit(ev.Drain(now=self._clock()))
        return drained

    async def get_stats(self) -> QueueStats:
        return (await self._engine.sync()).stats()

    # --- inspection -----------------------------------------------------------------------------

    async def list_jobs(self, state: JobState, limit: int = 100, offset: int = 0) -> list[Job]:
        state = list_arguments(state, limit, offset)
        return (await self._engine.sync()).list_jobs(state, limit, offset)

    async def get_job_logs(self, job_id: str) -> list[JobLogLine] | None:
        return (await self._engine.sync()).job_logs(job_id)

    # --- dead letters ---------------------------------------------------------------------------

    async def list_dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        page_arguments(limit, offset)
        return (await self._engine.sync()).dead_letters(limit, offset)

    async def reprocess_dead_letter(self, job_id: str) -> bool:
        revived: bool = await self._submit(ev.Reprocess(job_id=job_id, now=self._clock()))
        return revived

    async def reprocess_dead_letters(self, selection: DeadLetterFilter | None = None) -> int:
        revived: int = await self._submit(ev.ReprocessAll(selection=selection, now=self._clock()))
        return revived

    async def purge_dead_letters(self, older_than_ms: int) -> int:
        purge_arguments(older_than_ms)
        purged: int = await self._submit(ev.PurgeDeadLetters(older_than_ms=older_than_ms, now=self._clock()))
        return purged

    # --- run-time schedules (ADR 0022) ------------------------------------------------------------

    async def upsert_schedule(self, schedule: Schedule) -> Schedule:
        now = self._clock()
        checked, text = encode_schedule(schedule, self._factory, now)
        await self._submit(ev.PutSchedule(name=checked.name, definition=text, now=now))
        return checked

    async def remove_schedule(self, name: str) -> bool:
        event = ev.PutSchedule(name=check_schedule_name(name), definition=None, now=self._clock())
        existed: bool = await self._submit(event)
        return existed

    async def list_schedules(self) -> list[Schedule]:
        return decode_schedules(self.name, (await self._engine.sync()).schedules)

    # --- consumer side --------------------------------------------------------------------------

    async def claim(self, request: ClaimRequest) -> Sequence[ClaimedJob]:
        if request.max_jobs <= 0:
            return ()
        engine = self._engine
        replica = await engine.ensure_replica()
        deadline = time.monotonic() + max(request.block_ms, 0) / 1000
        limited_until = 0  # rate-limit window end learned from the last claim
        announced = engine.work_announced
        while True:
            changed = replica.change_event()
            now = self._clock()
            machine = replica.machine
            # A local add about to be posted: claim now, so the Claim shares the add's record.
            joins_local_add = engine.work_announced != announced and now >= limited_until
            announced = engine.work_announced
            if not machine.paused and (joins_local_add or _claimable(machine, now, limited_until)):
                outcome: ClaimOutcome = await engine.submit(
                    ev.Claim(
                        worker_id=request.worker_id,
                        max_jobs=request.max_jobs,
                        lease_ms=request.lease_ms,
                        now=now,
                        limiter=request.limiter,
                        tenancy=request.tenancy,
                    )
                )
                if outcome.jobs:
                    return outcome.jobs
                if request.limiter is not None and outcome.wake_at is not None and outcome.wake_at > now:
                    limited_until = outcome.wake_at
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return ()
            wake = None if machine.paused else _next_wake(machine, now, limited_until)
            if wake is not None:
                remaining = min(remaining, max(wake - now, 1) / 1000)
            await wait_for_change(changed, remaining)

    async def extend_leases(self, worker_id: str, leases: Sequence[LeaseRef], lease_ms: int) -> list[str]:
        if not leases:
            return []
        event = ev.Extend(worker_id=worker_id, leases=tuple(leases), lease_ms=lease_ms, now=self._clock())
        lost: list[str] = await self._submit(event)
        return lost

    async def update_progress(self, lease: LeaseRef, progress: Progress) -> bool:
        if isinstance(progress, JobProgress) and progress.data is not None:
            progress = copy.deepcopy(progress)  # the replica keeps it: the caller may mutate its dict
        updated: bool = await self._submit(
            ev.UpdateProgress(lease=lease, progress=progress, now=self._clock())
        )
        return updated

    async def append_log(self, lease: LeaseRef, text: str) -> bool:
        event = ev.AppendLog(
            lease=lease, text=log_line(text), keep=self._factory.defaults.keep_logs, now=self._clock()
        )
        appended: bool = await self._submit(event)
        return appended

    async def complete(self, lease: LeaseRef, return_json: str) -> bool:
        done: bool = await self._submit(ev.Complete(lease=lease, return_json=return_json, now=self._clock()))
        return done

    async def fail(self, lease: LeaseRef, report: FailureReport) -> bool:
        event = ev.Fail(
            lease=lease,
            reason=report.reason,
            stacktrace=report.stacktrace,
            retry_delay_ms=report.retry_delay_ms,
            now=self._clock(),
        )
        outcome: FailOutcome = await self._submit(event)
        return outcome.accepted

    async def release(self, worker_id: str, leases: Sequence[LeaseRef]) -> None:
        if leases:
            await self._submit(ev.Release(worker_id=worker_id, leases=tuple(leases), now=self._clock()))

    async def hand_back(self, lease: LeaseRef, delay_ms: int) -> bool:
        hand_back_arguments(delay_ms)
        outcome: FailOutcome = await self._submit(
            ev.HandBack(lease=lease, delay_ms=delay_ms, now=self._clock())
        )
        return outcome.accepted

    async def _submit(self, event: ev.QueueEvent) -> Any:
        engine = self._engine
        await engine.ensure_replica()
        return await engine.submit(event)

    # --- lifecycle ------------------------------------------------------------------------------

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._engine.release()


def _needs_no_state(draft: JobDraft) -> bool:
    """An add whose outcome does not depend on the queue's state: a fresh random id, no
    idempotency key (dedup cannot hit). Its data passed ``JobFactory``, so it is stored as is."""
    return draft.options.job_id is None and draft.options.idempotency_key is None


def _fresh_outcome(queue: str, event: ev.Add) -> list[Job]:
    """The jobs ``event`` creates, as a replica applies it when no job of it exists (ADR 0028):
    applied to an empty state machine, so the answer is the state machine's own."""
    jobs: list[Job] = QueueStateMachine(queue=queue).apply(event)
    return jobs


def _claimable(machine: QueueStateMachine, now: int, limited_until: int) -> bool:
    """A hint from the local replica: is a Claim worth appending now?"""
    if now < limited_until:
        return False
    if machine.has_claimable_waiting(now):
        return True
    wake = machine.next_wake_at()
    return wake is not None and wake < now


def _next_wake(machine: QueueStateMachine, now: int, limited_until: int) -> int | None:
    if now < limited_until:
        return limited_until
    wake = machine.next_wake_at()
    return None if wake is None else wake + 1  # leases expire strictly after lease_until


def _chunks(drafts: Sequence[JobDraft]) -> list[tuple[JobDraft, ...]]:
    chunks: list[tuple[JobDraft, ...]] = []
    chunk: list[JobDraft] = []
    size = 0
    for draft in drafts:
        cost = len(draft.data_json) + 512
        if chunk and size + cost > ADD_CHUNK_BYTES:
            chunks.append(tuple(chunk))
            chunk, size = [], 0
        chunk.append(draft)
        size += cost
    if chunk:
        chunks.append(tuple(chunk))
    return chunks
