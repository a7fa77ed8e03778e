"""A replica restored from a snapshot and fed the rest of the log equals one that replayed it all."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.queue_arguments import LISTABLE_STATES
from application.queue_backend import JobDraft, LeaseRef
from application.replication.snapshot_codec import (
    canonical_state,
    decode_snapshot,
    decode_state,
    encode_state,
)
from application.replication.value_codec import CodecError
from application.state_machine import events as ev
from application.state_machine.machine import QueueStateMachine
from domain.queue.job import JobProgress, JobState
from domain.queue.metadata import JobMetadata
from domain.queue.options import Backoff, KeepJobs, RateLimit, ResolvedOptions
from domain.queue.tenancy import TenantPolicy

JOB_IDS = [f"job-{i}" for i in range(6)]
TENANCY = TenantPolicy(max_active=1, max_starts=2, window_ms=100, weights=(("acme", 2),))


def _options(priority: int, delay: int, attempts: int, keep: int | None, key: str | None) -> ResolvedOptions:
    return ResolvedOptions(
        delay=delay,
        attempts=attempts,
        priority=priority,
        backoff=Backoff(),
        timeout=None,
        remove_on_complete=KeepJobs(count=keep),
        remove_on_fail=KeepJobs(count=keep),
        job_id=None,
        idempotency_key=key,
        idempotency_ttl=500,
    )


drafts = st.builds(
    lambda job_id, priority, delay, attempts, keep, key, tenant: JobDraft(
        id=job_id,
        name="test.run.v1",
        data_json='{"n":1}',
        options=_options(priority, delay, attempts, keep, key),
        metadata=JobMetadata(correlation_id=job_id, tenant_id=tenant, timestamp=0),
        created_at=0,
    ),
    st.sampled_from(JOB_IDS),
    st.integers(1, 10),
    st.sampled_from([0, 0, 50, 300]),
    st.integers(1, 3),
    st.sampled_from([None, 1, 2]),
    st.sampled_from([None, "k1", "k2"]),
    st.sampled_from([None, "acme", "globex"]),
)
steps = st.integers(0, 200)


def _lease(job_id: str, n: int) -> LeaseRef:
    return LeaseRef(job_id=job_id, token=f"w#{n}")


operations = st.lists(
    st.one_of(
        st.builds(lambda d, t: ("add", (d,), t), drafts, steps),
        st.builds(
            lambda m, lim, ten, t: ("claim", m, lim, ten, t), st.integers(1, 3), st.booleans(), st.booleans(), steps
        ),
        st.builds(lambda j, n, t: ("complete", j, n, t), st.sampled_from(JOB_IDS), st.integers(1, 12), steps),
        st.builds(
            lambda j, n, r, t: ("fail", j, n, r, t),
            st.sampled_from(JOB_IDS),
            st.integers(1, 12),
            st.sampled_from([None, 0, 100]),
            steps,
        ),
        st.builds(lambda j, n, t: ("extend", j, n, t), st.sampled_from(JOB_IDS), st.integers(1, 12), steps),
        st.builds(lambda j, n, t: ("release", j, n, t), st.sampled_from(JOB_IDS), st.integers(1, 12), steps),
        st.builds(
            lambda j, n, d, t: ("hand_back", j, n, d, t),
            st.sampled_from(JOB_IDS),
            st.integers(1, 12),
            st.sampled_from([0, 100]),
            steps,
        ),
        st.builds(lambda j, n, t: ("progress", j, n, t), st.sampled_from(JOB_IDS), st.integers(1, 12), steps),
        st.builds(lambda j, n, t: ("log", j, n, t), st.sampled_from(JOB_IDS), st.integers(1, 12), steps),
        st.builds(lambda j, t: ("remove", j, t), st.sampled_from(JOB_IDS), steps),
        st.builds(lambda j, t: ("reprocess", j, t), st.sampled_from(JOB_IDS), steps),
        st.builds(lambda p, t: ("pause", p, t), st.booleans(), steps),
        st.builds(lambda t: ("tick", t), steps),
        st.builds(lambda t: ("clean", t), steps),
        st.builds(lambda t: ("malformed", t), steps),
    ),
    max_size=60,
)


def _events(ops: list[tuple[object, ...]]) -> list[ev.QueueEvent]:
    now = 1_000
    result: list[ev.QueueEvent] = []
    for op in ops:
        kind, *args, step = op
        assert isinstance(step, int)
        now += step
        match kind:
            case "add":
                result.append(ev.Add(drafts=args[0], now=now))
            case "claim":
                limiter = RateLimit(max=2, duration=100) if args[1] else None
                tenancy = TENANCY if args[2] else None
                result.append(
                    ev.Claim(
                        worker_id="w", max_jobs=args[0], lease_ms=150, now=now, limiter=limiter, tenancy=tenancy
                    )
                )
            case "complete":
                result.append(ev.Complete(lease=_lease(args[0], args[1]), return_json="1", now=now))
            case "fail":
                result.append(
                    ev.Fail(
                        lease=_lease(args[0], args[1]),
                        reason="x",
                        stacktrace=None,
                        retry_delay_ms=args[2],
                        now=now,
                    )
                )
            case "extend":
                result.append(
                    ev.Extend(worker_id="w", leases=(_lease(args[0], args[1]),), lease_ms=150, now=now)
                )
            case "release":
                result.append(ev.Release(worker_id="w", leases=(_lease(args[0], args[1]),), now=now))
            case "hand_back":
                result.append(ev.HandBack(lease=_lease(args[0], args[1]), delay_ms=args[2], now=now))
            case "progress":
                progress = JobProgress(percentage=10.0, step="s")
                result.append(ev.UpdateProgress(lease=_lease(args[0], args[1]), progress=progress, now=now))
            case "log":
                result.append(ev.AppendLog(lease=_lease(args[0], args[1]), text=f"at {now}", keep=2, now=now))
            case "remove":
                result.append(ev.Remove(job_id=args[0], now=now))
            case "reprocess":
                result.append(ev.Reprocess(job_id=args[0], now=now))
            case "pause":
                result.append(ev.Pause(now=now) if args[0] else ev.Resume(now=now))
            case "tick":
                result.append(ev.Tick(now=now))
            case "clean":
                result.append(ev.Clean(grace_ms=50, state=JobState.COMPLETED, limit=2, now=now))
            case "malformed":
                result.append(
                    ev.RecordMalformed(job_id=f"malformed-{now}", raw=b"\x01", reason="bad", now=now)
                )
    return result


def _observe(machine: QueueStateMachine) -> tuple[object, ...]:
    return (
        machine.stats(),
        [machine.get(job_id) for job_id in JOB_IDS],
        machine.dead_letters(100, 0),
        machine.next_wake_at(),
        [machine.job_logs(job_id) for job_id in JOB_IDS],
        [machine.list_jobs(state, 100, 0) for state in LISTABLE_STATES],
    )


@settings(max_examples=150, deadline=None)
@given(operations, st.integers(0, 60))
def test_a_restored_replica_then_fed_the_rest_equals_one_that_replayed_everything(
    ops: list[tuple[object, ...]], cut: int
) -> None:
    events = _events(ops)
    cut = min(cut, len(events))
    replayed = QueueStateMachine(queue="q")
    for event in events[:cut]:
        replayed.apply(event)
    restored = decode_state(encode_state(replayed))
    assert canonical_state(restored) == canonical_state(replayed)
    for event in events[cut:]:
        assert restored.apply(event) == replayed.apply(event)

    assert canonical_state(restored) == canonical_state(replayed)
    assert _observe(restored) == _observe(replayed)


def test_encoding_the_same_state_twice_gives_the_same_bytes() -> None:
    machine = QueueStateMachine(queue="q")
    machine.apply(ev.Add(drafts=(), now=5))

    assert encode_state(machine) == encode_state(decode_state(encode_state(machine)))


def test_bytes_that_are_not_a_snapshot_raise_codec_error() -> None:
    with pytest.raises(CodecError):
        decode_state(b"definitely not zlib")


def test_appender_marks_travel_with_the_snapshot_and_old_snapshots_have_none() -> None:
    machine = QueueStateMachine(queue="q")
    marks = {"appender-a": (41, 1200), "appender-b": (7, 1300)}

    assert decode_snapshot(encode_state(machine, marks))[1] == marks
    assert decode_snapshot(encode_state(machine))[1] == {}


def test_run_time_schedules_travel_with_the_snapshot_and_old_snapshots_have_none() -> None:
    machine = QueueStateMachine(queue="q")
    assert b"schedules" not in canonical_state(machine)  # unchanged bytes for queues without any
    machine.apply(ev.PutSchedule(name="nightly", definition='{"name":"nightly"}', now=5))
    machine.apply(ev.PutSchedule(name="gone", definition="{}", now=6))
    machine.apply(ev.PutSchedule(name="gone", definition=None, now=7))

    assert decode_state(encode_state(machine)).schedules == {"nightly": '{"name":"nightly"}'}
