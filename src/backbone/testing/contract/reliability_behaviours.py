"""Contract behaviours 15 (several processes), 20 (nothing lost), 24 (malformed records), 25 (outages)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from application.queue_backend import ClaimRequest, FailureReport, LeaseRef
from backbone.testing.contract.helpers import (
    ECHO,
    MODEL,
    SLOW,
    TEST_LEASE_MS,
    contract_job_types,
    eventually,
    recording_handler,
    running_worker,
    wait_for_state,
)
from backbone.testing.contract.support import CONTRACT_SECRET, BrokerUnderTest
from domain.queue.errors import BrokerUnavailableError
from domain.queue.job import JobState, NewJob
from domain.queue.options import JobOptions

MALFORMED_RECORDS = [
    pytest.param(b"\xff\xfe\x00garbage", id="bad-bytes"),
    pytest.param(b"", id="empty"),
    pytest.param(b'{"this": "is not a job"}', id="wrong-schema"),
    pytest.param(json.dumps({"name": "contract.unknown.v1", "data": {}}).encode(), id="unknown-job-name"),
    pytest.param(json.dumps({"name": MODEL, "data": {"payment_id": 7}}).encode(), id="payload-fails-model"),
]


class ReliabilityBehaviours:
    # 15. several worker processes share a queue --------------------------------------------------------

    async def test_two_worker_processes_share_a_queue_without_double_processing(
        self, broker: BrokerUnderTest, queue: Any, queue_name: str
    ) -> None:
        other = await broker.start_second_worker(queue_name, [ECHO], "record", concurrency=2)
        try:
            await other.wait_ready(30)
            jobs = await queue.add_bulk([NewJob(ECHO, {"sleep_ms": 5, "i": i}) for i in range(40)])
            async with running_worker(
                queue, {ECHO: recording_handler([], result={"pid": -1})}, concurrency=2
            ):
                done = [await wait_for_state(queue, job.id, JobState.COMPLETED, timeout_s=30) for job in jobs]
        finally:
            await other.stop(15)
        assert all(job.attempts_started == 1 and job.attempts_made == 1 for job in done)
        runners = {job.return_value["pid"] for job in done}
        assert other.pid in runners

    # 20. at least once, nothing lost -----------------------------------------------------------------------

    async def test_job_of_a_killed_worker_is_finished_by_another_within_the_lease_time(
        self, broker: BrokerUnderTest, queue: Any, queue_name: str
    ) -> None:
        doomed = await broker.start_second_worker(queue_name, [SLOW], "suicide", lease_ms=TEST_LEASE_MS)
        await doomed.wait_ready(30)
        job = await queue.add(SLOW, {"kill_pid": doomed.pid}, JobOptions(attempts=3))
        await wait_for_state(queue, job.id, JobState.ACTIVE, timeout_s=30)
        killed_at = time.monotonic()
        await doomed.kill()
        async with running_worker(queue, {SLOW: recording_handler([])}):
            done = await wait_for_state(queue, job.id, JobState.COMPLETED, timeout_s=30)
        assert time.monotonic() - killed_at <= TEST_LEASE_MS / 1000 + 5
        assert done.attempts_started == 2
        assert any("lease expired" in line for line in done.stacktrace)

    async def test_job_that_kills_every_worker_ends_in_dead_letters(
        self, broker: BrokerUnderTest, queue: Any, queue_name: str
    ) -> None:
        job = await queue.add(SLOW, {"always": True}, JobOptions(attempts=2))
        for _ in range(2):
            worker = await broker.start_second_worker(queue_name, [SLOW], "suicide", lease_ms=TEST_LEASE_MS)
            await worker.wait_ready(30)
            await eventually(lambda: _started_at_least(queue, job.id, 1), timeout_s=30, message="an attempt")
            await worker.kill()
            await eventually(lambda: _not_active(queue, job.id), timeout_s=30, message="the lease to expire")
        failed = await wait_for_state(queue, job.id, JobState.FAILED, timeout_s=30)
        assert failed.attempts_started == 2
        assert "lease expired" in (failed.failed_reason or "")
        assert [letter.job_id for letter in await queue.list_dead_letters()] == [job.id]

    async def test_stale_workers_late_completion_is_rejected(self, queue: Any) -> None:
        job = await queue.add(ECHO, {}, JobOptions(attempts=3))
        [first] = await queue.claim(ClaimRequest("stale-worker", 1, 200, block_ms=1000))
        await asyncio.sleep(0.4)
        [second] = await queue.claim(ClaimRequest("fresh-worker", 1, 5000, block_ms=2000))
        assert second.job.id == job.id and second.token != first.token
        assert await queue.complete(LeaseRef(job.id, first.token), json.dumps("stale")) is False
        assert await queue.fail(LeaseRef(job.id, first.token), FailureReport("late", None, None)) is False
        assert await queue.complete(LeaseRef(job.id, second.token), json.dumps("fresh")) is True
        done = await queue.get_job(job.id)
        assert (done.state, done.return_value, done.attempts_started) == (JobState.COMPLETED, "fresh", 2)

    async def test_renewed_lease_keeps_a_long_job_with_its_worker(self, queue: Any) -> None:
        async def long_job(payload: Any, ctx: Any) -> str:
            await asyncio.sleep(TEST_LEASE_MS * 2.5 / 1000)
            return "kept"

        job = await queue.add(SLOW, {})
        async with running_worker(queue, {SLOW: long_job}):
            done = await wait_for_state(queue, job.id, JobState.COMPLETED, timeout_s=30)
        assert (done.return_value, done.attempts_started) == ("kept", 1)

    # 24. malformed records ---------------------------------------------------------------------------------

    @pytest.mark.parametrize("raw", MALFORMED_RECORDS)
    async def test_malformed_record_is_dead_lettered_with_its_bytes_and_the_worker_goes_on(
        self, broker: BrokerUnderTest, queue: Any, queue_name: str, raw: bytes
    ) -> None:
        calls: list[tuple[str, Any]] = []
        async with running_worker(queue, {ECHO: recording_handler(calls), MODEL: recording_handler(calls)}):
            await broker.write_raw_record(queue_name, raw)
            letters = await eventually(queue.list_dead_letters, timeout_s=30, message="a dead letter")
            good = await queue.add(ECHO, {"after": "malformed"})
            await wait_for_state(queue, good.id, JobState.COMPLETED, timeout_s=30)
        [letter] = letters
        assert letter.reason
        if letter.raw_record is not None:
            assert letter.raw_record == raw
        else:  # a well-formed record whose job cannot run keeps its original data
            assert letter.data == json.loads(raw)["data"]
        assert [job_id for job_id, _ in calls] == [good.id]

    # 25. broker unreachable -------------------------------------------------------------------------------------

    async def test_unreachable_broker_raises_one_documented_error_within_the_timeout(
        self, broker: BrokerUnderTest, queue_name: str
    ) -> None:
        started = time.monotonic()
        with pytest.raises(BrokerUnavailableError) as raised:
            await _add_to_unreachable(broker, queue_name)
        assert time.monotonic() - started < 10
        assert CONTRACT_SECRET not in str(raised.value)
        assert raised.value.broker

    async def test_worker_reconnects_by_itself_after_an_outage_and_nothing_acknowledged_is_lost(
        self, broker: BrokerUnderTest, queue: Any
    ) -> None:
        calls: list[tuple[str, Any]] = []
        async with running_worker(queue, {ECHO: recording_handler(calls)}):
            before = await queue.add(ECHO, {"when": "before"})
            await wait_for_state(queue, before.id, JobState.COMPLETED, timeout_s=30)
            queued = await queue.add(ECHO, {"when": "queued"}, JobOptions(delay=300))
            await broker.interrupt_and_restore()
            after = await _add_when_back(queue)
            for job in (queued, after):
                await wait_for_state(queue, job.id, JobState.COMPLETED, timeout_s=60)
        assert {job_id for job_id, _ in calls} == {before.id, queued.id, after.id}


async def _add_to_unreachable(broker: BrokerUnderTest, queue_name: str) -> None:
    queue = await broker.open_unreachable_queue(queue_name, contract_job_types(), timeout_ms=1000)
    try:
        await queue.add(ECHO, {})
    finally:
        await queue.close()


async def _add_when_back(queue: Any) -> Any:
    deadline = time.monotonic() + 60
    while True:
        try:
            return await queue.add(ECHO, {"when": "after"})
        except BrokerUnavailableError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _started_at_least(queue: Any, job_id: str, count: int) -> bool:
    job = await queue.get_job(job_id)
    return job is not None and job.state is JobState.ACTIVE and job.attempts_started >= count


async def _not_active(queue: Any, job_id: str) -> bool:
    job = await queue.get_job(job_id)
    return job is not None and job.state is not JobState.ACTIVE
