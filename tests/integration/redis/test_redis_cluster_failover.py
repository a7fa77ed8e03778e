"""A Redis Cluster master killed under a queue (``tests/harness/redis_cluster.py``): its replica is
promoted and the same broker handle, and a worker running on it, go on by themselves.

Redis replicates asynchronously: what a killed master acknowledged but had not yet sent to its
replica is lost (docs/adapters/redis.md, "Redis Cluster"). These tests kill the master once its
replica has caught up, and assert that then nothing is lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from adapters.redis import RedisBroker
from application.jobs.job_factory import JobFactory
from backbone.testing.contract.helpers import (
    ECHO,
    contract_job_types,
    fast_defaults,
    recording_handler,
    running_worker,
    unique_queue_name,
    wait_for_state,
)
from domain.queue.errors import BrokerUnavailableError
from domain.queue.job import Job, JobState, NewJob
from tests.harness.process import wait_until
from tests.harness.redis_cluster import LocalRedisCluster, start_local_redis_cluster

pytestmark = [pytest.mark.broker, pytest.mark.slow]

RECOVERY_TIMEOUT_S = 30.0


@pytest.fixture
def redis_cluster() -> Iterator[LocalRedisCluster]:
    cluster = start_local_redis_cluster()
    yield cluster
    cluster.close()


async def _add_when_back(queue: object, payload: dict[str, str]) -> Job:
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while True:
        try:
            return await queue.add(ECHO, payload)  # type: ignore[attr-defined, no-any-return]
        except BrokerUnavailableError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_jobs_replicated_before_a_master_dies_are_all_there_after_its_replica_takes_over(
    redis_cluster: LocalRedisCluster,
) -> None:
    broker = RedisBroker(redis_cluster.url)
    try:
        queue = await broker.open_queue(
            JobFactory(unique_queue_name("rc"), contract_job_types(), fast_defaults())
        )
        added = await queue.add_bulk([NewJob(ECHO, {"i": i}) for i in range(200)])
        await asyncio.to_thread(
            wait_until, redis_cluster.replicas_caught_up, timeout_s=10, what="replicas in sync"
        )
        killed = await asyncio.to_thread(redis_cluster.kill_master_of, queue.keys.meta)
        assert redis_cluster.master_port_of(queue.keys.meta) != killed
        after = await _add_when_back(queue, {"when": "after the failover"})
        stored = [await queue.get_job(job.id) for job in [*added, after]]
        assert [job.state if job else None for job in stored] == [JobState.WAITING] * 201
    finally:
        await broker.close()


async def test_a_worker_goes_on_by_itself_when_its_queues_master_fails_over(
    redis_cluster: LocalRedisCluster,
) -> None:
    broker = RedisBroker(redis_cluster.url)
    calls: list[tuple[str, object]] = []
    try:
        queue = await broker.open_queue(
            JobFactory(unique_queue_name("rc"), contract_job_types(), fast_defaults())
        )
        async with running_worker(queue, {ECHO: recording_handler(calls)}):
            before = await queue.add(ECHO, {"when": "before"})
            await wait_for_state(queue, before.id, JobState.COMPLETED, timeout_s=10)
            await asyncio.to_thread(
                wait_until, redis_cluster.replicas_caught_up, timeout_s=10, what="replicas in sync"
            )
            await asyncio.to_thread(redis_cluster.kill_master_of, queue.keys.meta)
            after = await _add_when_back(queue, {"when": "after"})
            await wait_for_state(queue, after.id, JobState.COMPLETED, timeout_s=RECOVERY_TIMEOUT_S)
        assert {job_id for job_id, _ in calls} == {before.id, after.id}
    finally:
        await broker.close()
