"""``QueueStateMachine``: the pure, deterministic reference model of the queue contract.

It decides every transition of one queue: add with dedup by job id and idempotency key,
priorities (1 first, FIFO within a priority), delays, claims with leases and fencing tokens,
completion, failure with the worker runtime's retry decision, stalled leases, pause, removal,
retention, clean, the rate-limit window, dead letters and reprocessing.

No I/O, no clock, no randomness: time arrives inside each event and the state keeps its own
monotonic ``now`` (``max(now, event.now)``). Applying the same events in the same order gives the
same state, which is what lets the RabbitMQ and Kafka adapters replicate it over a log.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from application.queue_arguments import (
    clean_arguments,
    hand_back_arguments,
    list_arguments,
    log_line,
    page_arguments,
    purge_arguments,
)
from application.queue_backend import ClaimedJob, JobDraft, LeaseRef
from application.state_machine import events as ev
from application.state_machine.records import (
    MALFORMED_JOB_NAME,
    MALFORMED_OPTIONS,
    MAX_STACKTRACES,
    JobRecord,
)
from application.state_machine.stored_json import StoredJsonError, decode_stored_json, stored_bytes
from application.state_machine.tenancy import TenantIndex, bucket_of, head_of
from domain.queue.job import DeadLetter, Job, JobLogLine, JobState, QueueStats
from domain.queue.metadata import JobMetadata
from domain.queue.options import KeepJobs, RateLimit
from domain.queue.tenancy import TenantPolicy

STALLED_REASON = "lease expired: the worker died or stalled"


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    jobs: tuple[ClaimedJob, ...]
    # When nothing (more) could be claimed: the earliest time work may become available
    # (a delayed job's due time or the next rate-limit window); None = wait for a new event.
    wake_at: int | None = None


@dataclass(frozen=True, slots=True)
class FailOutcome:
    accepted: bool
    state: JobState | None = None  # waiting / delayed (retry) or failed (dead letter)


@dataclass(slots=True)
class LimiterWindow:
    """The rate-limit window: which fixed window (now // duration) and how many jobs started in it."""

    window: int = -1
    started: int = 0


@dataclass(slots=True)
class QueueStateMachine:
    queue: str
    now: int = 0
    jobs: dict[str, JobRecord] = field(default_factory=dict)
    paused: bool = False
    seq: int = 0
    lease_seq: int = 0
    counts: dict[JobState, int] = field(default_factory=lambda: dict.fromkeys(JobState, 0))
    waiting: list[tuple[int, int, str]] = field(default_factory=list)  # (priority, seq, id)
    delayed: list[tuple[int, int, str]] = field(default_factory=list)  # (due_at, seq, id)
    leases: list[tuple[int, int, str]] = field(default_factory=list)  # (lease_until, lease_seq, id)
    completed: dict[str, None] = field(default_factory=dict)  # ids in finishing order
    failed: dict[str, None] = field(default_factory=dict)  # the dead-letter set, in failing order
    idempotency: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (job id, expires_at)
    idempotency_expiry: list[tuple[int, str]] = field(default_factory=list)
    limiter: LimiterWindow = field(default_factory=LimiterWindow)
    schedules: dict[str, str] = field(default_factory=dict)  # run-time schedules: name -> JSON (ADR 0022)
    # Fair share and tenant limits (ADR 0021): None until the first claim with a TenantPolicy;
    # from then on waiting jobs live in per-tenant buckets instead of ``waiting``.
    tenancy: TenantIndex | None = None

    # --- dispatch -----------------------------------------------------------------------------

    def apply(self, event: ev.QueueEvent) -> Any:
        """Apply one event and return its outcome (see each ``on_*`` method)."""
        handler: Callable[[Any], Any] = getattr(self, _HANDLERS[type(event)])
        return handler(event)

    # --- reads (no event needed: they change nothing) --------------------------------------------

    def get(self, job_id: str) -> Job | None:
        record = self.jobs.get(job_id)
        return None if record is None else record.to_job(self.queue)

    def rewritable(self) -> list[tuple[str, str, str]]:
        """``(id, name, data_json)`` of every job that is not active (what key rotation rewrites)."""
        return [
            (record.id, record.name, record.data_json)
            for record in self.jobs.values()
            if record.state is not JobState.ACTIVE and record.data_json is not None
        ]

    def stats(self) -> QueueStats:
        c = self.counts
        return QueueStats(
            waiting=c[JobState.WAITING],
            delayed=c[JobState.DELAYED],
            active=c[JobState.ACTIVE],
            completed=c[JobState.COMPLETED],
            failed=c[JobState.FAILED],
            paused=self.paused,
        )

    def dead_letters(self, limit: int, offset: int) -> list[DeadLetter]:
        page_arguments(limit, offset)
        result: list[DeadLetter] = []
        for index, job_id in enumerate(reversed(self.failed)):
            if index < offset:
                continue
            if len(result) >= limit:
                break
            result.append(self.jobs[job_id].to_dead_letter(self.queue))
        return result

    def list_jobs(self, state: JobState, limit: int, offset: int) -> list[Job]:
        """A page of one state's jobs, in the order of ``IGenericQueue.list_jobs``."""
        state = list_arguments(state, limit, offset)
        if limit == 0:
            return []
        ids = self._ids_in(state, offset + limit)
        return [self.jobs[job_id].to_job(self.queue) for job_id in ids[offset : offset + limit]]

    def job_logs(self, job_id: str) -> list[JobLogLine] | None:
        record = self.jobs.get(job_id)
        return None if record is None else [JobLogLine(at, text) for at, text in record.logs]

    def _waiting_entries(self) -> list[tuple[int, int, str]]:
        """Every waiting job's heap entry: in ``waiting``, or in the tenant buckets once tenancy is on
        (ADR 0021; listed by priority then age, where claims interleave the tenants)."""
        if self.tenancy is None:
            return self.waiting
        return [entry for bucket in self.tenancy.buckets.values() for entry in bucket.waiting]

    def _ids_in(self, state: JobState, count: int) -> list[str]:
        """The first ``count`` ids of ``state`` in listing order (heap entries that went stale skipped)."""
        jobs = self.jobs
        if state is JobState.WAITING or state is JobState.DELAYED:
            heap = self.delayed if state is JobState.DELAYED else self._waiting_entries()
            live = [
                entry
                for entry in heap
                if (record := jobs.get(entry[2])) is not None
                and record.state is state
                and record.seq == entry[1]
            ]
            return [entry[2] for entry in heapq.nsmallest(count, live)]
        if state is JobState.ACTIVE:
            started = {
                record.lease_number: job_id
                for _, _, job_id in self.leases
                if (record := jobs.get(job_id)) is not None and record.state is JobState.ACTIVE
            }
            return [started[number] for number in heapq.nlargest(count, started)]
        finished = self.completed if state is JobState.COMPLETED else self.failed
        result: list[str] = []
        for job_id in reversed(finished):
            if len(result) >= count:
                break
            result.append(job_id)
        return result

    def next_wake_at(self) -> int | None:
        """The earliest time a Tick would change something (a due delayed job or a lease expiry),
        or a claim could start a tenant's job again (its window limit ends)."""
        self._drop_stale_heads()
        candidates = [heap[0][0] for heap in (self.delayed, self.leases) if heap]
        if self.tenancy is not None:
            unpark = self.tenancy.next_unpark()
            if unpark is not None:
                candidates.append(unpark)
        return min(candidates) if candidates else None

    def has_claimable_waiting(self, now: int) -> bool:
        """Whether a claim at ``now`` may start a waiting job (tenants at a limit do not count)."""
        if self.tenancy is None:
            return self.counts[JobState.WAITING] > 0
        if self.tenancy.ring_head() is not None:
            return True
        unpark = self.tenancy.next_unpark()
        return unpark is not None and unpark <= now

    # --- events ---------------------------------------------------------------------------------

    def on_add(self, event: ev.Add) -> list[Job]:
        self._advance(event.now)
        return [self._add_one(draft) for draft in event.drafts]

    def on_claim(self, event: ev.Claim) -> ClaimOutcome:
        self._advance(event.now)
        if self.paused or event.max_jobs <= 0:
            return ClaimOutcome(())
        budget = event.max_jobs
        limit = event.limiter
        if limit is not None:
            budget = min(budget, self._limiter_budget(limit))
            if budget <= 0:
                return ClaimOutcome((), wake_at=(self.limiter.window + 1) * limit.duration)
        if event.tenancy is not None and self.tenancy is None:
            self._enable_tenancy()
        claimed: list[ClaimedJob] = []
        if self.tenancy is not None:
            self._claim_fair(event, budget, claimed)
        else:
            while len(claimed) < budget:
                record = self._pop_waiting()
                if record is None:
                    break
                claimed.append(self._start(record, event.worker_id, event.lease_ms))
        if limit is not None:
            self.limiter.started += len(claimed)
        wake_at = None
        if len(claimed) < event.max_jobs:
            wake_at = self._next_due()
            if self.tenancy is not None:
                wake_at = _earliest(wake_at, self.tenancy.next_unpark())
            if limit is not None and len(claimed) == budget and budget < event.max_jobs:
                window_end = (self.limiter.window + 1) * limit.duration
                wake_at = window_end if wake_at is None else min(wake_at, window_end)
        return ClaimOutcome(tuple(claimed), wake_at)

    def on_extend(self, event: ev.Extend) -> list[str]:
        """Renew the leases a worker still holds; returns the ids of the jobs it has lost."""
        self._advance(event.now)
        lost: list[str] = []
        for lease in event.leases:
            record = self._held(lease)
            if record is None:
                lost.append(lease.job_id)
                continue
            record.lease_until = self.now + event.lease_ms
            heapq.heappush(self.leases, (record.lease_until, record.lease_number, record.id))
        return lost

    def on_update_progress(self, event: ev.UpdateProgress) -> bool:
        self._advance(event.now)
        record = self._held(event.lease)
        if record is None:
            return False
        record.progress = event.progress
        return True

    def on_complete(self, event: ev.Complete) -> bool:
        self._advance(event.now)
        record = self._held(event.lease)
        if record is None:
            return False
        self._clear_lease(record)
        record.attempts_made += 1
        try:
            decode_stored_json(event.return_json, "return value")
        except StoredJsonError as exc:  # the attempt ended, but what it returned cannot be kept
            record.failed_reason = f"malformed return value: {exc.reason}"
            record.raw_record = stored_bytes(event.return_json)
            self._push_stack(record, record.failed_reason)
            self._dead_letter(record)
            return True
        record.return_json = event.return_json
        record.finished_on = self.now
        self._set_state(record, JobState.COMPLETED)
        self.completed[record.id] = None
        self._retain(self.completed, record.options.remove_on_complete)
        return True

    def on_fail(self, event: ev.Fail) -> FailOutcome:
        self._advance(event.now)
        record = self._held(event.lease)
        if record is None:
            return FailOutcome(False)
        self._clear_lease(record)
        record.attempts_made += 1
        record.failed_reason = event.reason
        self._push_stack(record, event.stacktrace or event.reason)
        retry = event.retry_delay_ms is not None and record.attempts_started < record.options.attempts
        if retry and event.retry_delay_ms:
            self._make_delayed(record, self.now + event.retry_delay_ms)
        elif retry:
            self._make_waiting(record)
        else:
            self._dead_letter(record)
        return FailOutcome(True, record.state)

    def on_release(self, event: ev.Release) -> int:
        self._advance(event.now)
        released = 0
        for lease in event.leases:
            record = self._held(lease)
            if record is None:
                continue
            self._clear_lease(record)
            record.attempts_started -= 1
            if record.attempts_started == 0:
                record.processed_on = None
            self._set_state(record, JobState.WAITING)
            self._queue_waiting(record)
            released += 1
        return released

    def on_hand_back(self, event: ev.HandBack) -> FailOutcome:
        """Give a claimed job back without counting its attempt: delayed by ``delay_ms`` (or
        waiting at once for 0), one more hand-back on the job. Stale leases change nothing."""
        self._advance(event.now)
        hand_back_arguments(event.delay_ms)
        record = self._held(event.lease)
        if record is None:
            return FailOutcome(False)
        self._clear_lease(record)
        record.attempts_started -= 1
        if record.attempts_started == 0:
            record.processed_on = None
        record.hand_backs += 1
        if event.delay_ms:
            self._make_delayed(record, self.now + event.delay_ms)
        else:
            self._make_waiting(record)
        return FailOutcome(True, record.state)

    def on_remove(self, event: ev.Remove) -> bool:
        self._advance(event.now)
        record = self.jobs.get(event.job_id)
        if record is None or record.state is JobState.ACTIVE:
            return False
        self._delete(record)
        return True

    def on_pause(self, event: ev.Pause) -> None:
        self._advance(event.now)
        self.paused = True

    def on_resume(self, event: ev.Resume) -> None:
        self._advance(event.now)
        self.paused = False

    def on_put_schedule(self, event: ev.PutSchedule) -> bool:
        """Store or delete a run-time schedule; returns whether one of that name existed before."""
        self._advance(event.now)
        existed = event.name in self.schedules
        if event.definition is None:
            self.schedules.pop(event.name, None)
        else:
            self.schedules[event.name] = event.definition
        return existed

    def on_clean(self, event: ev.Clean) -> int:
        state = clean_arguments(event.grace_ms, event.state, event.limit)
        self._advance(event.now)
        finished = self.completed if state is JobState.COMPLETED else self.failed
        cutoff = self.now - event.grace_ms
        victims: list[str] = []
        for job_id in finished:
            if len(victims) >= event.limit:
                break
            finished_on = self.jobs[job_id].finished_on or 0
            if finished_on >= cutoff:
                break
            victims.append(job_id)
        for job_id in victims:
            self._delete(self.jobs[job_id])
        return len(victims)

    def on_drain(self, event: ev.Drain) -> int:
        self._advance(event.now)
        victims = [
            record for record in self.jobs.values() if record.state in (JobState.WAITING, JobState.DELAYED)
        ]
        for record in victims:
            self._delete(record)
        return len(victims)

    def on_reprocess(self, event: ev.Reprocess) -> bool:
        self._advance(event.now)
        record = self.jobs.get(event.job_id)
        if record is None or record.state is not JobState.FAILED:
            return False
        self._revive(record)
        return True

    def on_reprocess_all(self, event: ev.ReprocessAll) -> int:
        self._advance(event.now)
        selection = event.selection
        chosen = [
            self.jobs[job_id]
            for job_id in self.failed
            if selection is None or selection.matches(self.jobs[job_id].to_dead_letter(self.queue))
        ]
        for record in chosen:
            self._revive(record)
        return len(chosen)

    def on_purge_dead_letters(self, event: ev.PurgeDeadLetters) -> int:
        purge_arguments(event.older_than_ms)
        self._advance(event.now)
        cutoff = self.now - event.older_than_ms
        victims = [job_id for job_id in self.failed if (self.jobs[job_id].finished_on or 0) < cutoff]
        for job_id in victims:
            self._delete(self.jobs[job_id])
        return len(victims)

    def on_replace_data(self, event: ev.ReplaceData) -> bool:
        self._advance(event.now)
        record = self.jobs.get(event.job_id)
        if record is None or record.state is JobState.ACTIVE or record.data_json != event.expected_json:
            return False
        try:
            decode_stored_json(event.data_json)
        except StoredJsonError:
            return False  # every replica refuses the same way: the job keeps its data
        record.data_json = event.data_json
        return True

    def on_record_malformed(self, event: ev.RecordMalformed) -> Job:
        self._advance(event.now)
        existing = self.jobs.get(event.job_id)
        if existing is not None:
            return existing.to_job(self.queue, deduplicated=True)
        record = JobRecord(
            id=event.job_id,
            name=MALFORMED_JOB_NAME,
            data_json=None,
            options=MALFORMED_OPTIONS,
            metadata=JobMetadata(correlation_id=event.job_id, source="malformed-record", timestamp=self.now),
            created_at=self.now,
            state=JobState.FAILED,
            failed_reason=event.reason,
            stacktrace=[event.reason],
            finished_on=self.now,
            raw_record=event.raw,
        )
        self.jobs[record.id] = record
        self.counts[JobState.FAILED] += 1
        self.failed[record.id] = None
        return record.to_job(self.queue)

    def on_append_log(self, event: ev.AppendLog) -> bool:
        self._advance(event.now)
        record = self._held(event.lease)
        if record is None:
            return False
        if event.keep > 0:
            record.logs.append((self.now, log_line(event.text)))
            if len(record.logs) > event.keep:
                del record.logs[: len(record.logs) - event.keep]
        return True

    def on_tick(self, event: ev.Tick) -> None:
        self._advance(event.now)

    # --- internals ------------------------------------------------------------------------------

    def _advance(self, now: int) -> None:
        if now > self.now:
            self.now = now
        now = self.now
        delayed = self.delayed
        while delayed and delayed[0][0] <= now:
            _, seq, job_id = heapq.heappop(delayed)
            record = self.jobs.get(job_id)
            if record is not None and record.state is JobState.DELAYED and record.seq == seq:
                self._make_waiting(record)
        leases = self.leases
        while leases and leases[0][0] < now:
            lease_until, number, job_id = heapq.heappop(leases)
            record = self.jobs.get(job_id)
            if (
                record is not None
                and record.state is JobState.ACTIVE
                and record.lease_until == lease_until
                and record.lease_number == number
            ):
                self._recover_stalled(record)
        expiry = self.idempotency_expiry
        while expiry and expiry[0][0] <= now:
            expires_at, key = heapq.heappop(expiry)
            entry = self.idempotency.get(key)
            if entry is not None and entry[1] == expires_at:
                del self.idempotency[key]

    def _add_one(self, draft: JobDraft) -> Job:
        key = draft.options.idempotency_key
        if key is not None:
            entry = self.idempotency.get(key)
            if entry is not None:
                original = self.jobs.get(entry[0])
                if original is not None:
                    return original.to_job(self.queue, deduplicated=True)
                return _removed_job(draft, entry[0], self.queue)
        existing = self.jobs.get(draft.id)
        if existing is not None:
            return existing.to_job(self.queue, deduplicated=True)
        try:
            data = decode_stored_json(draft.data_json)
        except StoredJsonError as exc:
            return self._store_malformed_job(draft, exc.reason)
        record = JobRecord(
            id=draft.id,
            name=draft.name,
            data_json=draft.data_json,
            options=draft.options,
            metadata=draft.metadata,
            created_at=draft.created_at,
            state=JobState.WAITING,
        )
        self.jobs[record.id] = record
        self.counts[JobState.WAITING] += 1  # counted as waiting; _make_delayed moves the count
        if draft.options.delay > 0:
            self._make_delayed(record, self.now + draft.options.delay)
        else:
            self._make_waiting(record)
        if key is not None:
            expires_at = self.now + draft.options.idempotency_ttl
            self.idempotency[key] = (record.id, expires_at)
            heapq.heappush(self.idempotency_expiry, (expires_at, key))
        return record.to_job(self.queue, data=data)

    def _store_malformed_job(self, draft: JobDraft, reason: str) -> Job:
        """A job whose data does not decode goes straight to the dead letters, with its bytes.

        Like a malformed record, it is not runnable: it keeps its id, and its data text as raw bytes.
        """
        record = JobRecord(
            id=draft.id,
            name=MALFORMED_JOB_NAME,
            data_json=None,
            options=MALFORMED_OPTIONS,
            metadata=draft.metadata,
            created_at=draft.created_at,
            state=JobState.FAILED,
            failed_reason=f"malformed job {draft.name!r}: {reason}",
            finished_on=self.now,
            raw_record=stored_bytes(draft.data_json),
        )
        record.stacktrace.append(record.failed_reason or "")
        self.jobs[record.id] = record
        self.counts[JobState.FAILED] += 1
        self.failed[record.id] = None
        return record.to_job(self.queue)

    def _make_waiting(self, record: JobRecord) -> None:
        self.seq += 1
        record.seq = self.seq
        record.due_at = None
        self._set_state(record, JobState.WAITING)
        self._queue_waiting(record)

    def _queue_waiting(self, record: JobRecord) -> None:
        if self.tenancy is not None:
            self.tenancy.push(record)
        else:
            heapq.heappush(self.waiting, (record.options.priority, record.seq, record.id))

    def _enable_tenancy(self) -> None:
        """Move every waiting job into its tenant's bucket and count the running ones (once)."""
        index = self.tenancy = TenantIndex()
        for _, seq, job_id in sorted(self.waiting):
            record = self.jobs.get(job_id)
            if record is not None and record.state is JobState.WAITING and record.seq == seq:
                index.push(record)
        self.waiting = []
        for record in self.jobs.values():
            if record.state is JobState.ACTIVE:
                index.bucket(bucket_of(record)).active += 1

    def _claim_fair(self, event: ev.Claim, budget: int, claimed: list[ClaimedJob]) -> None:
        """Tenants in turn within the best priority; a tenant at a limit is parked, not in the way."""
        index = self.tenancy
        assert index is not None
        policy = event.tenancy or NO_LIMITS
        jobs = self.jobs
        index.unpark_due(self.now, jobs)
        while len(claimed) < budget:
            entry = index.ring_head()
            if entry is None:
                return
            name, bucket = entry
            head = head_of(bucket, jobs)
            key = bucket.ring_key
            assert key is not None
            if head is None:
                index.leave_ring(bucket)
                continue
            if head.options.priority != key[0]:  # its best job went away: re-sort it
                bucket.ring_key = (head.options.priority, key[1])
                heapq.heappush(index.ring, (head.options.priority, key[1], name))
                continue
            if index.limited(name, bucket, policy, self.now):
                continue
            heapq.heappop(bucket.waiting)
            claimed.append(self._start(head, event.worker_id, event.lease_ms))
            index.started(name, bucket, policy, jobs)

    def _make_delayed(self, record: JobRecord, due_at: int) -> None:
        self.seq += 1
        record.seq = self.seq
        record.due_at = due_at
        self._set_state(record, JobState.DELAYED)
        heapq.heappush(self.delayed, (due_at, record.seq, record.id))

    def _pop_waiting(self) -> JobRecord | None:
        waiting = self.waiting
        while waiting:
            _, seq, job_id = heapq.heappop(waiting)
            record = self.jobs.get(job_id)
            if record is not None and record.state is JobState.WAITING and record.seq == seq:
                return record
        return None

    def _start(self, record: JobRecord, worker_id: str, lease_ms: int) -> ClaimedJob:
        self.lease_seq += 1
        token = f"{worker_id}#{self.lease_seq}"
        record.lease_owner = worker_id
        record.lease_token = token
        record.lease_number = self.lease_seq
        record.lease_until = self.now + lease_ms
        record.attempts_started += 1
        record.processed_on = self.now
        self._set_state(record, JobState.ACTIVE)
        heapq.heappush(self.leases, (record.lease_until, self.lease_seq, record.id))
        return ClaimedJob(record.to_job(self.queue), token)

    def _held(self, lease: LeaseRef) -> JobRecord | None:
        """The record if ``lease`` is still the current attempt (fencing), else None."""
        record = self.jobs.get(lease.job_id)
        if record is None or record.state is not JobState.ACTIVE or record.lease_token != lease.token:
            return None
        return record

    def _clear_lease(self, record: JobRecord) -> None:
        if self.tenancy is not None:
            self.tenancy.left_active(record, self.jobs)
        record.lease_owner = None
        record.lease_token = None
        record.lease_number = 0
        record.lease_until = None

    def _recover_stalled(self, record: JobRecord) -> None:
        self._clear_lease(record)
        record.stalled_count += 1
        self._push_stack(record, STALLED_REASON)
        if record.attempts_started < record.options.attempts:
            self._make_waiting(record)
        else:
            record.failed_reason = f"{STALLED_REASON} (after {record.attempts_started} attempts)"
            self._dead_letter(record)

    def _dead_letter(self, record: JobRecord) -> None:
        record.finished_on = self.now
        record.due_at = None
        self._set_state(record, JobState.FAILED)
        self.failed[record.id] = None
        self._retain(self.failed, record.options.remove_on_fail)

    def _revive(self, record: JobRecord) -> None:
        del self.failed[record.id]
        if record.data_json is not None:  # a runnable job: bytes kept from a bad return value go
            record.raw_record = None
        record.attempts_started = 0
        record.attempts_made = 0
        record.stalled_count = 0
        record.hand_backs = 0
        record.failed_reason = None
        record.finished_on = None
        record.processed_on = None
        self._make_waiting(record)

    def _retain(self, finished: dict[str, None], keep: KeepJobs) -> None:
        if keep.age is not None:
            cutoff = self.now - keep.age
            while finished:
                oldest = next(iter(finished))
                if (self.jobs[oldest].finished_on or 0) >= cutoff:
                    break
                self._delete(self.jobs[oldest])
        if keep.count is not None:
            while len(finished) > keep.count:
                self._delete(self.jobs[next(iter(finished))])

    def _delete(self, record: JobRecord) -> None:
        self.counts[record.state] -= 1
        if record.state is JobState.COMPLETED:
            del self.completed[record.id]
        elif record.state is JobState.FAILED:
            del self.failed[record.id]
        del self.jobs[record.id]  # heap entries go stale and are skipped lazily

    def _set_state(self, record: JobRecord, state: JobState) -> None:
        counts = self.counts
        counts[record.state] -= 1
        counts[state] += 1
        record.state = state

    def _push_stack(self, record: JobRecord, entry: str) -> None:
        record.stacktrace.append(entry)
        if len(record.stacktrace) > MAX_STACKTRACES:
            del record.stacktrace[0]

    def _limiter_budget(self, limit: RateLimit) -> int:
        window = self.now // limit.duration
        if window != self.limiter.window:
            self.limiter.window = window
            self.limiter.started = 0
        return limit.max - self.limiter.started

    def _next_due(self) -> int | None:
        self._drop_stale_heads()
        return self.delayed[0][0] if self.delayed else None

    def _drop_stale_heads(self) -> None:
        delayed = self.delayed
        while delayed:
            _, seq, job_id = delayed[0]
            record = self.jobs.get(job_id)
            if record is not None and record.state is JobState.DELAYED and record.seq == seq:
                break
            heapq.heappop(delayed)
        leases = self.leases
        while leases:
            lease_until, number, job_id = leases[0]
            record = self.jobs.get(job_id)
            if (
                record is not None
                and record.state is JobState.ACTIVE
                and record.lease_until == lease_until
                and record.lease_number == number
            ):
                break
            heapq.heappop(leases)

    def iter_records(self) -> Iterator[JobRecord]:
        return iter(self.jobs.values())


NO_LIMITS = TenantPolicy()


def _earliest(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _removed_job(draft: JobDraft, original_id: str, queue: str) -> Job:
    """What a deduplicated add returns when the original job no longer exists."""
    return Job(
        id=original_id,
        queue=queue,
        name=draft.name,
        data=None,
        options=draft.options,
        metadata=draft.metadata,
        state=JobState.REMOVED,
        created_at=draft.created_at,
        deduplicated=True,
    )


_HANDLERS: dict[type, str] = {
    ev.Add: "on_add",
    ev.Claim: "on_claim",
    ev.Extend: "on_extend",
    ev.UpdateProgress: "on_update_progress",
    ev.Complete: "on_complete",
    ev.Fail: "on_fail",
    ev.Release: "on_release",
    ev.HandBack: "on_hand_back",
    ev.Remove: "on_remove",
    ev.Pause: "on_pause",
    ev.Resume: "on_resume",
    ev.Clean: "on_clean",
    ev.Drain: "on_drain",
    ev.Reprocess: "on_reprocess",
    ev.ReprocessAll: "on_reprocess_all",
    ev.PurgeDeadLetters: "on_purge_dead_letters",
    ev.ReplaceData: "on_replace_data",
    ev.RecordMalformed: "on_record_malformed",
    ev.AppendLog: "on_append_log",
    ev.PutSchedule: "on_put_schedule",
    ev.Tick: "on_tick",
}
