"""The replica applies records in order, dead-letters undecodable ones and answers its own events."""

from __future__ import annotations

import asyncio

from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.replication.event_codec import encode_events
from application.replication.log_port import LogRecord
from application.replication.replica import Replica, malformed_job_id
from application.replication.snapshot_codec import canonical_state, decode_snapshot, encode_state
from application.state_machine import events as ev
from application.state_machine.machine import QueueStateMachine
from domain.queue.job import JobState


def _replica(appender: str = "me", max_record_bytes: int = 1024) -> Replica:
    return Replica(QueueStateMachine(queue="q"), 0, appender, max_record_bytes=max_record_bytes)


def _record(offset: int, payload: bytes) -> LogRecord:
    return LogRecord(offset=offset, payload=payload, timestamp_ms=99_999_999)


async def test_an_undecodable_record_becomes_the_same_dead_letter_in_every_replica() -> None:
    first, second = _replica("a"), _replica("b")
    for replica in (first, second):
        replica.apply(_record(0, encode_events("x", [(1, ev.Tick(now=10))])))
        replica.apply(_record(1, b"\x00garbage"))

    letters = [replica.machine.dead_letters(10, 0) for replica in (first, second)]

    assert letters[0] == letters[1]
    assert [letter.job_id for letter in letters[0]] == [malformed_job_id(1)]
    assert "not UTF-8 JSON" in letters[0][0].reason
    assert letters[0][0].raw_record == b"\x00garbage"


async def test_an_oversize_record_is_dead_lettered_with_its_size_as_reason() -> None:
    replica = _replica(max_record_bytes=16)

    replica.apply(_record(0, b"x" * 17))

    assert "17 bytes" in replica.machine.dead_letters(1, 0)[0].reason


async def test_a_malformed_record_does_not_move_the_replicas_clock_to_its_timestamp() -> None:
    replica = _replica()
    replica.apply(_record(0, encode_events("x", [(1, ev.Tick(now=10))])))

    replica.apply(_record(1, b"null"))

    assert replica.machine.now == 10


async def test_the_outcome_of_an_own_event_reaches_the_future_waiting_on_its_nonce() -> None:
    replica = _replica("me")
    mine = replica.expect(5)
    theirs_same_nonce = encode_events("other", [(5, ev.Remove(job_id="nope", now=1))])
    replica.apply(_record(0, theirs_same_nonce))
    assert not mine.done()

    replica.apply(_record(1, encode_events("me", [(5, ev.Remove(job_id="nope", now=1))])))

    assert mine.result() is False


async def test_records_below_the_applied_offset_are_ignored() -> None:
    replica = _replica()
    replica.apply(_record(0, encode_events("x", [(1, ev.Pause(now=1))])))
    replica.apply(_record(1, encode_events("x", [(2, ev.Resume(now=2))])))

    replica.apply(_record(0, encode_events("x", [(1, ev.Pause(now=1))])))

    assert replica.machine.paused is False
    assert replica.next_offset == 2


async def test_waiting_for_an_offset_returns_once_it_is_applied_or_false_on_timeout() -> None:
    replica = _replica()
    assert await replica.wait_applied(1, 0.01) is False

    waiter = asyncio.create_task(replica.wait_applied(1, 1.0))
    await asyncio.sleep(0)
    replica.apply(_record(0, encode_events("x", [(1, ev.Tick(now=1))])))
    replica.applied_batch()

    assert await waiter is True


def _add(nonce: int, now: int) -> tuple[int, ev.QueueEvent]:
    draft = JobFactory("q", JobTypes(strict=False)).draft("test.run.v1", {"n": nonce}, None, None, now)
    return nonce, ev.Add(drafts=(draft,), now=now)


def _claim_one(now: int) -> tuple[int, ev.QueueEvent]:
    return 1, ev.Claim(worker_id="w", max_jobs=1, lease_ms=60_000, now=now)


def _two_jobs_and_a_claim(replica: Replica) -> bytes:
    """Apply two adds and a claim of one job; returns the claim's record (to append it again)."""
    replica.apply(_record(0, encode_events("producer", [_add(1, 10), _add(2, 10)])))
    claim = encode_events("worker", [_claim_one(20)])
    replica.apply(_record(1, claim))
    return claim


async def test_a_record_that_lands_twice_is_applied_once() -> None:
    replica = _replica(max_record_bytes=1 << 20)
    claim = _two_jobs_and_a_claim(replica)

    replica.apply(_record(2, claim))  # a producer retry: the same record again

    assert replica.machine.counts[JobState.ACTIVE] == 1
    assert replica.machine.counts[JobState.WAITING] == 1


async def test_a_replica_restored_from_a_snapshot_skips_the_same_duplicates() -> None:
    original = _replica(max_record_bytes=1 << 20)
    claim = _two_jobs_and_a_claim(original)
    machine, marks = decode_snapshot(encode_state(original.machine, original.marks))
    restored = Replica(machine, 2, "other", max_record_bytes=1 << 20, marks=marks)

    for replica in (original, restored):
        replica.apply(_record(2, claim))

    assert restored.machine.counts[JobState.ACTIVE] == 1
    assert canonical_state(restored.machine) == canonical_state(original.machine)
