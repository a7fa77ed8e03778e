"""Several ``ReplicatedQueue`` processes on one log behave as one queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from adapters.memory_log import MemoryLog
from application.queue_backend import ClaimRequest, FailureReport, LeaseRef
from application.replication.engine import ReplicationEngine
from application.replication.log_port import LogRecord
from application.replication.replicated_queue import ReplicatedQueue
from application.replication.settings import ReplicationSettings
from application.replication.snapshot_codec import canonical_state
from application.worker import HandlerRegistry, Worker, WorkerOptions
from domain.queue.errors import BrokerUnavailableError, InvalidJobError, PayloadTooLargeError
from domain.queue.job import JobProgress, JobState, NewJob
from domain.queue.options import JobOptions, RateLimit

if TYPE_CHECKING:
    from conftest import Cluster

JOB_NAME = "test.run.v1"  # registered by the cluster fixture


def _claim(worker: str = "w", max_jobs: int = 1, block_ms: int = 0, lease_ms: int = 30_000) -> ClaimRequest:
    return ClaimRequest(worker_id=worker, max_jobs=max_jobs, lease_ms=lease_ms, block_ms=block_ms)


async def _until(predicate: object, timeout_s: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def test_a_job_added_in_one_process_is_seen_and_claimed_in_another(cluster: Cluster) -> None:
    producer, worker = await cluster.process(), await cluster.process()

    job = await producer.add(JOB_NAME, {"n": 1})
    claimed = await worker.claim(_claim())

    assert [c.job.id for c in claimed] == [job.id]
    assert (await producer.get_job(job.id)).state is JobState.ACTIVE  # type: ignore[union-attr]


async def test_two_processes_adding_the_same_job_id_at_once_store_one_job(cluster: Cluster) -> None:
    first, second = await cluster.process(), await cluster.process()
    options = JobOptions(job_id="same-id")

    results = await asyncio.gather(
        first.add(JOB_NAME, {"from": 1}, options), second.add(JOB_NAME, {"from": 2}, options)
    )

    assert sorted(job.deduplicated for job in results) == [False, True]
    assert results[0].data == results[1].data
    assert (await first.get_stats()).waiting == 1


async def test_pause_in_one_process_stops_claims_in_every_process(cluster: Cluster) -> None:
    admin, worker = await cluster.process(), await cluster.process()
    await admin.add(JOB_NAME, {})

    await admin.pause()

    assert await worker.claim(_claim(block_ms=50)) == ()
    assert await worker.is_paused() is True


async def test_a_blocked_claim_wakes_when_another_process_adds_a_job(cluster: Cluster) -> None:
    producer, worker = await cluster.process(), await cluster.process()
    claim = asyncio.create_task(worker.claim(_claim(block_ms=2000)))
    await asyncio.sleep(0.05)

    job = await producer.add(JOB_NAME, {})

    assert [c.job.id for c in await claim] == [job.id]


async def test_an_idle_claim_appends_nothing_to_the_log_while_it_waits(cluster: Cluster) -> None:
    worker = await cluster.process()
    before = len(cluster.storage.records)

    assert await worker.claim(_claim(block_ms=100)) == ()
    assert len(cluster.storage.records) == before


async def test_a_delayed_job_is_claimed_once_due_without_any_other_event(cluster: Cluster) -> None:
    producer, worker = await cluster.process(), await cluster.process()
    job = await producer.add(JOB_NAME, {}, JobOptions(delay=80))

    claimed = await worker.claim(_claim(block_ms=2000))

    assert [c.job.id for c in claimed] == [job.id]
    assert claimed[0].job.processed_on >= job.created_at + 80  # type: ignore[operator]


async def test_counts_agree_across_processes_after_mixed_operations(cluster: Cluster) -> None:
    a, b = await cluster.process(), await cluster.process()
    await a.add_bulk([NewJob(JOB_NAME, {"i": i}) for i in range(5)])
    claimed = await b.claim(_claim(max_jobs=3))
    await b.complete(LeaseRef(claimed[0].job.id, claimed[0].token), "null")
    failure = FailureReport(reason="no", stacktrace=None, retry_delay_ms=None)
    await a.fail(LeaseRef(claimed[1].job.id, claimed[1].token), failure)

    stats_a, stats_b = await a.get_stats(), await b.get_stats()

    assert stats_a == stats_b
    assert (stats_a.waiting, stats_a.active, stats_a.completed, stats_a.failed) == (2, 1, 1, 1)


async def test_add_bulk_returns_jobs_in_the_order_given(cluster: Cluster) -> None:
    queue = await cluster.process()

    jobs = await queue.add_bulk([NewJob(JOB_NAME, {"i": i}) for i in range(50)])

    assert [job.data["i"] for job in jobs] == list(range(50))


async def test_invalid_input_is_refused_before_anything_is_appended(cluster: Cluster) -> None:
    queue = await cluster.process()
    before = len(cluster.storage.records)

    with pytest.raises(InvalidJobError):
        await queue.add_bulk([NewJob(JOB_NAME, {}), NewJob("Bad Name", {})])

    assert len(cluster.storage.records) == before


async def test_a_stale_lease_token_changes_nothing(cluster: Cluster) -> None:
    queue = await cluster.process()
    job = await queue.add(JOB_NAME, {})
    await queue.claim(_claim())

    assert await queue.complete(LeaseRef(job.id, "someone#999"), "1") is False
    assert (await queue.get_job(job.id)).state is JobState.ACTIVE  # type: ignore[union-attr]


async def test_an_expired_lease_is_recovered_by_the_leaders_tick(cluster: Cluster) -> None:
    leader, worker = await cluster.process(leader=True), await cluster.process()
    job = await worker.add(JOB_NAME, {})
    await worker.claim(_claim(lease_ms=30))
    before = len(cluster.storage.records)

    async def recovered_in_log() -> bool:
        return len(cluster.storage.records) > before and leader.engine.machine.counts[JobState.WAITING] == 1

    await _until(recovered_in_log)
    assert (await worker.get_job(job.id)).state is JobState.WAITING  # type: ignore[union-attr]


async def test_a_read_after_a_lease_expired_sees_the_job_back_in_waiting(cluster: Cluster) -> None:
    worker = await cluster.process()
    job = await worker.add(JOB_NAME, {})
    await worker.claim(_claim(lease_ms=20))
    await asyncio.sleep(0.05)

    recovered = await worker.get_job(job.id)

    assert recovered is not None
    assert recovered.state is JobState.WAITING
    assert recovered.attempts_started == 1


async def test_the_rate_limit_is_shared_by_every_process(cluster: Cluster) -> None:
    a, b = await cluster.process(), await cluster.process()
    await a.add_bulk([NewJob(JOB_NAME, {}) for _ in range(4)])
    limiter = RateLimit(max=2, duration=60_000)

    got_a = await a.claim(ClaimRequest("wa", 2, 30_000, limiter=limiter, block_ms=0))
    got_b = await b.claim(ClaimRequest("wb", 2, 30_000, limiter=limiter, block_ms=50))

    assert (len(got_a), len(got_b)) == (2, 0)


async def test_a_raw_malformed_record_is_dead_lettered_the_same_way_in_every_process(
    cluster: Cluster,
) -> None:
    a, b = await cluster.process(), await cluster.process()
    cluster.storage.append([b"\xde\xad\xbe\xef"])

    letters_a, letters_b = await a.list_dead_letters(), await b.list_dead_letters()

    assert letters_a == letters_b
    assert len(letters_a) == 1
    assert letters_a[0].raw_record == b"\xde\xad\xbe\xef"
    assert "malformed record" in letters_a[0].reason


async def test_a_new_process_starts_from_the_snapshot_and_agrees_with_the_old_one(cluster: Cluster) -> None:
    old = await cluster.process(leader=True)
    await old.add_bulk([NewJob(JOB_NAME, {"i": i}) for i in range(10)])
    await old.claim(_claim(max_jobs=4))
    covered = await old.engine.snapshot_now()
    await old.add(JOB_NAME, {"after": True})

    new = await cluster.process()

    assert covered > 0
    assert new.engine.replica.records_applied < len(cluster.storage.records)
    assert await new.get_stats() == await old.get_stats()


async def test_operations_raise_broker_unavailable_within_the_timeout_when_the_log_is_down(
    cluster: Cluster,
) -> None:
    queue = await cluster.process()
    cluster.storage.available = False
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(BrokerUnavailableError):
        await queue.add(JOB_NAME, {})

    assert loop.time() - started < cluster.settings.operation_timeout_s + 0.5


async def test_a_process_recovers_by_itself_after_the_log_comes_back(cluster: Cluster) -> None:
    queue = await cluster.process()
    cluster.storage.available = False
    with pytest.raises(BrokerUnavailableError):
        await queue.get_stats()

    cluster.storage.available = True
    job = await queue.add(JOB_NAME, {})

    assert (await queue.get_job(job.id)) is not None


async def test_handles_of_one_process_share_one_engine_and_close_it_with_the_last(cluster: Cluster) -> None:
    first = await cluster.process()
    second = ReplicatedQueue(first._factory, first.engine)  # a second handle in the same process
    first.engine.acquire()
    engine: ReplicationEngine = first.engine

    await first.close()
    assert engine.closed is False
    await second.close()
    assert engine.closed is True


async def test_an_event_too_large_for_one_record_is_refused_before_anything_is_appended(
    cluster: Cluster,
) -> None:
    cluster.settings = ReplicationSettings(operation_timeout_ms=500, max_record_bytes=4096)
    queue = await cluster.process()
    before = len(cluster.storage.records)

    with pytest.raises(PayloadTooLargeError):
        await queue.add(JOB_NAME, {"blob": "x" * 8192})

    assert len(cluster.storage.records) == before


async def test_own_records_applied_at_append_give_the_same_state_as_reading_them_back(
    cluster: Cluster,
) -> None:
    writer, reader = await cluster.process(), await cluster.process()
    jobs = await writer.add_bulk(
        [NewJob(JOB_NAME, {"i": i}, JobOptions(priority=1 + i % 3)) for i in range(20)]
    )
    claimed = await writer.claim(_claim(max_jobs=5))
    await writer.complete(LeaseRef(claimed[0].job.id, claimed[0].token), '"done"')
    await reader.get_stats()  # reader caught up through its tail only

    assert canonical_state(writer.engine.machine) == canonical_state(reader.engine.machine)
    assert len(jobs) == 20


async def test_progress_stored_by_a_process_does_not_change_when_the_caller_mutates_its_dict(
    cluster: Cluster,
) -> None:
    queue = await cluster.process()
    job = await queue.add(JOB_NAME, {})
    [claimed] = await queue.claim(_claim())
    data: dict[str, object] = {"rows": 1}

    await queue.update_progress(LeaseRef(job.id, claimed.token), JobProgress(percentage=10.0, data=data))
    data["rows"] = 999

    stored = (await queue.get_job(job.id)).progress  # type: ignore[union-attr]
    assert isinstance(stored, JobProgress)
    assert stored.data == {"rows": 1}


async def test_a_waiting_claim_in_the_adding_process_travels_in_the_adds_record(cluster: Cluster) -> None:
    handle = await cluster.process()
    waiting_claim = asyncio.ensure_future(handle.claim(_claim(block_ms=2000)))
    await asyncio.sleep(0.05)  # the claimer is waiting for work
    records_before = len(cluster.storage.records)

    job = await handle.add(JOB_NAME, {"n": 1})
    claimed = await waiting_claim

    assert [c.job.id for c in claimed] == [job.id]
    assert len(cluster.storage.records) == records_before + 1  # Add and Claim in one append


async def test_a_delayed_add_does_not_make_a_waiting_claimer_append(cluster: Cluster) -> None:
    handle = await cluster.process()
    waiting_claim = asyncio.ensure_future(handle.claim(_claim(block_ms=200)))
    await asyncio.sleep(0.05)
    records_before = len(cluster.storage.records)

    await handle.add(JOB_NAME, {"n": 1}, JobOptions(delay=60_000))

    assert await waiting_claim == ()
    assert len(cluster.storage.records) == records_before + 1  # the Add alone


class _StalledTailLog(MemoryLog):
    """A log whose tail never brings anything new (as if its fetch were held): only reads help."""

    async def tail(self, from_offset: int) -> AsyncIterator[LogRecord]:
        await asyncio.Event().wait()
        yield LogRecord(offset=from_offset, payload=b"", timestamp_ms=0)  # pragma: no cover


async def test_an_own_append_behind_other_processes_records_is_applied_without_the_tail(
    cluster: Cluster,
) -> None:
    other = await cluster.process()
    handle = await cluster.process(log=_StalledTailLog(cluster.storage))
    first = await other.add(JOB_NAME, {"n": 1})  # in the log, never tailed by `handle`

    second = await handle.add(JOB_NAME, {"n": 2})  # its outcome needs the record in front of it

    assert second.state is JobState.WAITING
    assert handle.engine.machine.get(first.id) is not None


async def test_a_workers_next_claim_travels_with_the_completion_of_its_last_job(cluster: Cluster) -> None:
    handle = await cluster.process()
    first, second = await handle.add_bulk([NewJob(JOB_NAME, {"n": 1}), NewJob(JOB_NAME, {"n": 2})])
    records_before = len(cluster.storage.records)

    async def handler(payload: object, ctx: object) -> None:
        return None

    registry = HandlerRegistry(cluster.job_types(), {JOB_NAME: handler})
    worker = Worker(handle, registry, WorkerOptions(concurrency=1, block_ms=50))
    running = asyncio.create_task(worker.run())
    for job in (first, second):
        await _until(lambda job=job: _is_completed(handle, job.id))
    await worker.stop()
    await running

    # Claim; Complete of the first job with the Claim of the second; Complete of the second.
    assert len(cluster.storage.records) == records_before + 3


async def _is_completed(handle: ReplicatedQueue, job_id: str) -> bool:
    job = await handle.get_job(job_id)
    return job is not None and job.state is JobState.COMPLETED
