"""Contract behaviours 29-30: the operator's broker-level actions (``backbone drain``, ``backbone
queues``): draining a queue removes its waiting and delayed jobs only; the broker lists the queues
that exist on it."""

from __future__ import annotations

import asyncio
from typing import Any

from application.queue_backend import ClaimedJob, ClaimRequest, FailureReport, LeaseRef
from backbone.testing.contract.helpers import ECHO, unique_queue_name
from backbone.testing.contract.support import BrokerUnderTest
from domain.queue.options import JobOptions

HOUR_MS = 3_600_000
WORKER = "contract-admin-worker"


async def _claim(queue: Any, count: int, timeout_s: float = 10.0) -> list[ClaimedJob]:
    claimed: list[ClaimedJob] = []
    async with asyncio.timeout(timeout_s):
        while len(claimed) < count:
            request = ClaimRequest(WORKER, max_jobs=count - len(claimed), lease_ms=60_000, block_ms=200)
            claimed.extend(await queue.claim(request))
    return claimed


class AdminBehaviours:
    # 29. drain -------------------------------------------------------------------------------------

    async def test_drain_removes_waiting_and_delayed_jobs_and_returns_how_many(self, queue: Any) -> None:
        waiting = await queue.add(ECHO, {"n": 1})
        delayed = await queue.add(ECHO, {"n": 2}, JobOptions(delay=HOUR_MS))
        assert await queue.drain() == 2
        assert await queue.get_job(waiting.id) is None
        assert await queue.get_job(delayed.id) is None
        stats = await queue.get_stats()
        assert (stats.waiting, stats.delayed) == (0, 0)

    async def test_drain_leaves_active_completed_and_dead_lettered_jobs(self, queue: Any) -> None:
        first = await queue.add(ECHO, {"n": 1})
        second = await queue.add(ECHO, {"n": 2})
        third = await queue.add(ECHO, {"n": 3})
        by_id = {c.job.id: c for c in await _claim(queue, 3)}
        assert await queue.complete(LeaseRef(first.id, by_id[first.id].token), "null")
        report = FailureReport(reason="broken", stacktrace=None, retry_delay_ms=None)
        assert await queue.fail(LeaseRef(second.id, by_id[second.id].token), report)
        await queue.add(ECHO, {"n": 4})
        await queue.add(ECHO, {"n": 5}, JobOptions(delay=HOUR_MS))

        assert await queue.drain() == 2

        stats = await queue.get_stats()
        assert (stats.waiting, stats.delayed, stats.active, stats.completed, stats.failed) == (0, 0, 1, 1, 1)
        assert [letter.job_id for letter in await queue.list_dead_letters()] == [second.id]
        assert (await queue.get_job(third.id)).state.value == "active"
        assert await queue.complete(LeaseRef(third.id, by_id[third.id].token), "null")  # lease intact

    async def test_drain_of_an_empty_queue_returns_zero(self, queue: Any) -> None:
        assert await queue.drain() == 0

    async def test_drained_queue_takes_new_jobs(self, queue: Any) -> None:
        await queue.add(ECHO, {"n": 1})
        await queue.drain()
        job = await queue.add(ECHO, {"n": 2})
        assert (await queue.get_stats()).waiting == 1
        assert (await queue.get_job(job.id)).data == {"n": 2}

    # 30. list the queues on the broker -------------------------------------------------------------

    async def test_broker_lists_a_queue_that_holds_a_job(self, broker: BrokerUnderTest, queue: Any) -> None:
        await queue.add(ECHO, {})
        names = await broker.list_queues()
        assert queue.name in names
        assert names == sorted(names)

    async def test_broker_does_not_list_a_queue_never_used(self, broker: BrokerUnderTest, queue: Any) -> None:
        await queue.add(ECHO, {})
        assert unique_queue_name("never") not in await broker.list_queues()
