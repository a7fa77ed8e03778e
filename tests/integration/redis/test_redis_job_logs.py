"""Redis keeps a job's ``ctx.log`` lines in a list of their own (ADR 0026): in the queue's slot, and
deleted with the job on every path that deletes it, so no list outlives its job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from adapters.redis import RedisBroker, RedisQueue, RedisSettings
from application.jobs.job_factory import JobFactory
from application.queue_backend import ClaimRequest, FailureReport, LeaseRef
from backbone.testing.contract.helpers import ECHO, contract_job_types, fast_defaults, unique_queue_name
from domain.queue.job import JobState
from domain.queue.options import JobOptions, KeepJobs
from tests.harness.handle import BrokerHandle


@pytest.fixture
async def redis_queue(redis_broker: BrokerHandle) -> AsyncIterator[RedisQueue]:
    broker = RedisBroker(RedisSettings(url=redis_broker.url))
    queue = await broker.open_queue(
        JobFactory(unique_queue_name("lg"), contract_job_types(), fast_defaults())
    )
    yield queue
    await broker.close()


@pytest.fixture
async def raw(redis_broker: BrokerHandle) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_broker.url)
    yield client
    await client.aclose()


async def _logged(queue: RedisQueue, options: JobOptions | None = None) -> LeaseRef:
    job = await queue.add(ECHO, {}, options)
    [claimed] = await queue.claim(ClaimRequest("w", 1, 60_000, block_ms=1000))
    assert claimed.job.id == job.id
    lease = LeaseRef(job.id, claimed.token)
    assert await queue.append_log(lease, "a line")
    return lease


def test_the_logs_key_falls_in_the_queue_slot() -> None:
    from adapters.redis.keys import QueueKeys

    keys = QueueKeys("backbone", "q")
    assert key_slot(keys.logs("any-id").encode()) == key_slot(keys.meta.encode())


async def test_the_lines_live_in_a_list_under_the_logs_key(
    redis_queue: RedisQueue, raw: aioredis.Redis
) -> None:
    lease = await _logged(redis_queue)
    [entry] = await raw.lrange(redis_queue.keys.logs(lease.job_id), 0, -1)
    assert entry.endswith(b" a line")


async def test_remove_deletes_the_logs(redis_queue: RedisQueue, raw: aioredis.Redis) -> None:
    lease = await _logged(redis_queue)
    assert await redis_queue.complete(lease, "null")
    assert await redis_queue.remove_job(lease.job_id)
    assert await raw.exists(redis_queue.keys.logs(lease.job_id)) == 0


async def test_clean_and_purge_delete_the_logs(redis_queue: RedisQueue, raw: aioredis.Redis) -> None:
    done = await _logged(redis_queue)
    assert await redis_queue.complete(done, "null")
    dead = await _logged(redis_queue, JobOptions(attempts=1))
    assert await redis_queue.fail(dead, FailureReport("boom", None, None))
    await asyncio.sleep(0.01)  # both finished at least a millisecond ago: "older than 0 ms" holds
    assert await redis_queue.clean(0, JobState.COMPLETED) == 1
    assert await redis_queue.purge_dead_letters(0) == 1
    for lease in (done, dead):
        assert await raw.exists(redis_queue.keys.logs(lease.job_id)) == 0


async def test_retention_deletes_the_logs_of_the_jobs_it_drops(
    redis_queue: RedisQueue, raw: aioredis.Redis
) -> None:
    kept_for_no_time = await _logged(redis_queue, JobOptions(remove_on_complete=True))
    assert await redis_queue.complete(kept_for_no_time, "null")
    keep_one = JobOptions(remove_on_complete=KeepJobs(count=1))
    older = await _logged(redis_queue, keep_one)
    assert await redis_queue.complete(older, "null")
    newer = await _logged(redis_queue, keep_one)
    assert await redis_queue.complete(newer, "null")
    assert await raw.exists(redis_queue.keys.logs(kept_for_no_time.job_id)) == 0
    assert await raw.exists(redis_queue.keys.logs(older.job_id)) == 0
    assert await raw.exists(redis_queue.keys.logs(newer.job_id)) == 1


async def test_an_entry_a_raw_client_pushed_is_shown_whole_without_a_time(
    redis_queue: RedisQueue, raw: aioredis.Redis
) -> None:
    lease = await _logged(redis_queue)
    await raw.rpush(redis_queue.keys.logs(lease.job_id), b"no time here")
    lines = await redis_queue.get_job_logs(lease.job_id)
    assert lines is not None
    assert [(line.at > 0, line.text) for line in lines] == [(True, "a line"), (False, "no time here")]
