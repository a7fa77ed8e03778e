"""What only the Redis adapter promises, against a real ``redis-server`` (the shared contract is
``tests/contract/test_redis.py``): one cluster slot per queue, passwords and TLS, the
eviction-policy warning, an idle worker that costs (almost) nothing, garbage under the queue's
prefix, two worker processes with one killed mid-job, and the Lua scripts cross-checked against the
state machine."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.memory import MemoryBroker
from adapters.redis import RedisBroker, RedisQueue, RedisSettings
from adapters.redis.connection import RedisConnection
from application.jobs.job_factory import JobFactory
from application.queue_backend import ClaimRequest, FailureReport, LeaseRef, QueueBackend
from backbone.testing.contract.helpers import (
    ECHO,
    OTHER,
    SLOW,
    contract_job_types,
    eventually,
    fast_defaults,
    recording_handler,
    running_worker,
    unique_queue_name,
    wait_for_state,
)
from backbone.testing.contract.process_worker import ProcessWorker
from backbone.testing.contract.support import CONTRACT_SECRET
from domain.queue.errors import BrokerUnavailableError
from domain.queue.job import JobState, NewJob, QueueStats
from domain.queue.options import JobOptions
from tests.harness.brokers import start_local_redis
from tests.harness.handle import BrokerHandle
from tests.harness.ports import LOOPBACK, free_port
from tests.harness.process import ServerProcess, wait_until
from tests.harness.redis_server import redis_server_binary

PRIO_SHIFT = 2**40


class raw_client:  # noqa: N801 - used as ``async with raw_client(server) as client``
    """A plain redis-py client: what a user bypassing the adapter would hold."""

    def __init__(self, server: BrokerHandle) -> None:
        self._client = aioredis.Redis.from_url(server.url)

    async def __aenter__(self) -> aioredis.Redis:
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()


# --- what only the Redis adapter promises -----------------------------------------------------------


@pytest.fixture
async def redis_queue(redis_broker: BrokerHandle) -> AsyncIterator[RedisQueue]:
    broker = RedisBroker(RedisSettings(url=redis_broker.url))
    queue = await broker.open_queue(
        JobFactory(unique_queue_name("rd"), contract_job_types(), fast_defaults())
    )
    yield queue
    await broker.close()


async def test_every_script_key_of_a_queue_falls_in_one_cluster_slot(redis_queue: RedisQueue) -> None:
    from redis.crc import key_slot

    keys = redis_queue.keys
    every_key = [*keys.script_keys(), keys.job("any-id"), keys.job("{other}"), keys.idempotency("k:{x}")]
    assert len({key_slot(key.encode()) for key in every_key}) == 1


@pytest.fixture(scope="module")
def cluster_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A one-node Redis Cluster owning every slot: scripts there refuse keys outside their slot."""
    base = tmp_path_factory.mktemp("redis-cluster")
    port = free_port()
    argv = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        LOOPBACK,
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    argv += [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        str(base / "nodes.conf"),
        "--dir",
        str(base),
    ]
    process = ServerProcess("redis-cluster", argv, log_path=base / "redis.log")
    process.start()
    try:
        client = redis.Redis(host=LOOPBACK, port=port, socket_timeout=1)
        wait_until(lambda: _pings(client), timeout_s=20, what="cluster redis-server", alive=process.running)
        client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        wait_until(
            lambda: b"cluster_state:ok" in client.execute_command("CLUSTER", "INFO"),
            timeout_s=20,
            what="cluster state ok",
            alive=process.running,
        )
        client.close()
        yield f"redis://{LOOPBACK}:{port}/0"
    finally:
        process.stop(graceful=False)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


async def test_the_cluster_agrees_on_the_slot_and_runs_every_transition(cluster_redis: str) -> None:
    from redis.crc import key_slot

    broker = RedisBroker(RedisSettings(url=cluster_redis))
    queue = await broker.open_queue(
        JobFactory(unique_queue_name("rd"), contract_job_types(), fast_defaults())
    )
    try:
        keys = queue.keys
        every_key = [*keys.script_keys(), keys.job("j1"), keys.idempotency("i1")]
        slots = {await queue._conn.commands.execute_command("CLUSTER", "KEYSLOT", key) for key in every_key}
        assert slots == {key_slot(keys.meta.encode())}
        job = await queue.add(ECHO, {"on": "cluster"}, JobOptions(idempotency_key="once"))
        assert (await queue.add(ECHO, {}, JobOptions(idempotency_key="once"))).id == job.id
        late = await queue.add(ECHO, {}, JobOptions(delay=60_000))
        [claimed] = await queue.claim(ClaimRequest("w", 5, 1000, block_ms=100))
        assert await queue.extend_leases("w", [LeaseRef(job.id, claimed.token)], 1000) == []
        assert await queue.update_progress(LeaseRef(job.id, claimed.token), 50)
        assert await queue.fail(LeaseRef(job.id, claimed.token), FailureReport("boom", None, None))
        assert await queue.reprocess_dead_letters() == 1
        [again] = await queue.claim(ClaimRequest("w", 5, 1000, block_ms=100))
        await queue.release("w", [LeaseRef(job.id, again.token)])
        [third] = await queue.claim(ClaimRequest("w", 5, 1000, block_ms=100))
        assert await queue.complete(LeaseRef(job.id, third.token), "1")
        await queue.pause()
        await queue.resume()
        assert await queue.remove_job(late.id)
        assert await queue.clean(0, JobState.COMPLETED) == 1
        assert await queue.purge_dead_letters(0) == 0
        assert await queue.get_stats() == QueueStats()
    finally:
        await broker.close()


@pytest.fixture(scope="module")
def password_redis() -> Iterator[BrokerHandle]:
    server = start_local_redis(password=CONTRACT_SECRET)
    try:
        yield server
    finally:
        server.close()


async def test_a_password_in_the_url_opens_a_protected_server(password_redis: BrokerHandle) -> None:
    broker = RedisBroker(RedisSettings(url=password_redis.url))
    try:
        queue = await broker.open_queue(JobFactory(unique_queue_name("rd"), contract_job_types()))
        job = await queue.add(ECHO, {"secret": "kept"})
        assert (await queue.get_job(job.id)) == job
        assert CONTRACT_SECRET not in broker.url
    finally:
        await broker.close()


async def test_a_wrong_password_is_a_broker_error_that_never_shows_the_password(
    password_redis: BrokerHandle,
) -> None:
    url = f"redis://default:wrong-{CONTRACT_SECRET}@{LOOPBACK}:{password_redis.port}/0"
    broker = RedisBroker(RedisSettings(url=url))
    try:
        with pytest.raises(BrokerUnavailableError) as raised:
            await broker.open_queue(JobFactory(unique_queue_name("rd"), contract_job_types()))
    finally:
        await broker.close()
    assert CONTRACT_SECRET not in str(raised.value) and "***" in str(raised.value)


async def test_a_server_that_never_answers_is_a_broker_error_within_the_operation_timeout() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accept, read nothing, answer nothing

    server = await asyncio.start_server(silent, LOOPBACK, 0)
    port = server.sockets[0].getsockname()[1]
    url = f"redis://backbone:{CONTRACT_SECRET}@{LOOPBACK}:{port}/0"
    settings = RedisSettings(url=url, connect_timeout_ms=300, operation_timeout_ms=300)
    queue = RedisQueue(RedisConnection(settings), JobFactory(unique_queue_name("rd"), contract_job_types()))
    started = time.monotonic()
    try:
        with pytest.raises(BrokerUnavailableError) as raised:
            await queue.add(ECHO, {})
    finally:
        await queue.close()
        await queue._conn.close()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert time.monotonic() - started < 2.0
    assert CONTRACT_SECRET not in str(raised.value)


async def test_opening_a_queue_warns_when_keys_may_be_evicted(
    redis_broker: BrokerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    async with raw_client(redis_broker) as client:
        await client.config_set("maxmemory-policy", "allkeys-lru")
        try:
            broker = RedisBroker(RedisSettings(url=redis_broker.url))
            with caplog.at_level(logging.WARNING, logger="adapters.redis.connection"):
                await broker.open_queue(JobFactory(unique_queue_name("rd"), contract_job_types()))
            await broker.close()
        finally:
            await client.config_set("maxmemory-policy", "noeviction")
    assert any("maxmemory-policy=allkeys-lru" in record.getMessage() for record in caplog.records)


async def test_an_idle_worker_blocks_instead_of_polling(
    redis_broker: BrokerHandle, redis_queue: RedisQueue
) -> None:
    await redis_queue.claim(ClaimRequest("idle", 1, 1000, block_ms=10))  # scripts loaded, connections open
    async with raw_client(redis_broker) as client:
        await client.config_resetstat()
        await redis_queue.claim(ClaimRequest("idle", 1, 1000, block_ms=1500))
        stats = await client.info("commandstats")
    # a claim script before and after one BZPOPMIN that waits out the 1.5 s: no polling in between
    assert stats["cmdstat_evalsha"]["calls"] <= 2
    assert stats["cmdstat_bzpopmin"]["calls"] == 1
    writes = {"cmdstat_hset", "cmdstat_hincrby", "cmdstat_zadd", "cmdstat_del"}
    assert not writes & set(stats)  # and it wrote nothing


async def test_a_delayed_job_wakes_a_blocked_claim_at_its_due_time(redis_queue: RedisQueue) -> None:
    claim = asyncio.create_task(redis_queue.claim(ClaimRequest("w", 1, 1000, block_ms=5000)))
    await asyncio.sleep(0.05)
    job = await redis_queue.add(ECHO, {}, JobOptions(delay=200))
    [claimed] = await asyncio.wait_for(claim, 5)
    assert claimed.job.id == job.id
    assert claimed.job.processed_on is not None and job.due_at is not None
    assert claimed.job.processed_on >= job.due_at


async def test_garbage_under_the_queue_prefix_is_dead_lettered_and_the_worker_goes_on(
    redis_broker: BrokerHandle, redis_queue: RedisQueue
) -> None:
    keys = redis_queue.keys
    calls: list[tuple[str, Any]] = []
    async with raw_client(redis_broker) as client:
        await client.set(f"{keys.base}not-a-queue-key", b"\x00junk")  # ignored: nothing refers to it
        await client.hset(keys.job("half"), mapping={"name": ECHO, "state": "waiting"})  # fields missing
        await client.zadd(keys.wait, {"half": 5 * PRIO_SHIFT, "ghost": 5 * PRIO_SHIFT})  # ghost: no record
        async with running_worker(redis_queue, {ECHO: recording_handler(calls)}):
            letters = await eventually(
                lambda: _letters_at_least(redis_queue, 2), timeout_s=10, message="two dead letters"
            )
            good = await redis_queue.add(ECHO, {"after": "garbage"})
            await wait_for_state(redis_queue, good.id, JobState.COMPLETED)
        assert await client.get(f"{keys.base}not-a-queue-key") == b"\x00junk"
    reasons = {letter.job_id: letter.reason for letter in letters}
    assert "missing field(s)" in reasons["half"] and "missing" in reasons["ghost"]
    assert [job_id for job_id, _ in calls] == [good.id]


async def test_a_payload_that_no_longer_decodes_is_dead_lettered_with_its_bytes(
    redis_broker: BrokerHandle, redis_queue: RedisQueue
) -> None:
    job = await redis_queue.add(ECHO, {"fine": True}, JobOptions(delay=60_000))
    async with raw_client(redis_broker) as client:
        await client.hset(redis_queue.keys.job(job.id), "data", b"{not json")
        await client.zadd(redis_queue.keys.delayed, {job.id: 0})  # due now
    calls: list[tuple[str, Any]] = []
    async with running_worker(redis_queue, {ECHO: recording_handler(calls)}):
        [letter] = await eventually(redis_queue.list_dead_letters, timeout_s=10, message="a dead letter")
    assert letter.job_id == job.id and letter.raw_record == b"{not json"
    assert "does not decode" in letter.reason
    assert calls == []


async def test_records_overwritten_by_a_raw_client_never_wedge_the_queue(
    redis_broker: BrokerHandle, redis_queue: RedisQueue
) -> None:
    active = await redis_queue.add(ECHO, {"n": 1})
    finished = await redis_queue.add(ECHO, {"n": 2}, JobOptions(remove_on_complete=False))
    [first, second] = await redis_queue.claim(ClaimRequest("w", 2, 100, block_ms=100))
    assert await redis_queue.complete(LeaseRef(second.job.id, second.token), "null")
    async with raw_client(redis_broker) as client:
        await client.set(redis_queue.keys.job(active.id), b"overwritten")
        await client.set(redis_queue.keys.job(finished.id), b"overwritten too")
    await asyncio.sleep(0.2)  # the first lease expires: its record is not a job any more
    assert await redis_queue.clean(0, JobState.COMPLETED) == 1
    [letter] = await redis_queue.list_dead_letters()
    assert (letter.job_id, letter.raw_record) == (first.job.id, b"overwritten")
    assert await redis_queue.get_stats() == QueueStats(failed=1)


async def test_a_job_survives_sigkill_of_its_worker_process_and_finishes_on_the_other_process(
    redis_broker: BrokerHandle, redis_queue: RedisQueue
) -> None:
    lease_ms = 1000
    workers = [
        await ProcessWorker.start(
            redis_broker.url, redis_queue.name, [SLOW], "suicide", concurrency=1, lease_ms=lease_ms
        )
        for _ in range(2)
    ]
    doomed, survivor = workers
    try:
        for worker in workers:
            await worker.wait_ready(30)
        jobs = []
        while not await _exited(doomed):  # each job dies with whichever worker is `doomed`
            assert len(jobs) < 30, "the doomed worker never took a job"
            jobs.append(await redis_queue.add(SLOW, {"kill_pid": doomed.pid}, JobOptions(attempts=3)))
            await eventually(lambda: _completed_or_exited(redis_queue, jobs[-1].id, doomed), timeout_s=30)
        killed_at = time.monotonic()
        fatal = await wait_for_state(redis_queue, jobs[-1].id, JobState.COMPLETED, timeout_s=30)
        assert time.monotonic() - killed_at <= lease_ms / 1000 + 3
        done = [await wait_for_state(redis_queue, job.id, JobState.COMPLETED) for job in jobs]
    finally:
        for worker in workers:
            await worker.stop(15)
    assert fatal.return_value == {"pid": survivor.pid}
    assert (fatal.attempts_started, fatal.attempts_made) == (2, 1)
    assert json.dumps(fatal.stacktrace).count("lease expired") == 1
    assert all(job.return_value == {"pid": survivor.pid} for job in done)


async def _exited(worker: ProcessWorker) -> bool:
    try:
        await worker.wait_exit(0.01)
    except TimeoutError:
        return False
    return True


async def _completed_or_exited(queue: RedisQueue, job_id: str, worker: ProcessWorker) -> bool:
    job = await queue.get_job(job_id)
    return (job is not None and job.state is JobState.COMPLETED) or await _exited(worker)


async def _letters_at_least(queue: RedisQueue, count: int) -> Any:
    letters = await queue.list_dead_letters()
    return letters if len(letters) >= count else None


# --- cross-check: the Redis adapter and the state machine (memory adapter) agree ----------------------

HOUR_MS = 3_600_000
_ids = st.sampled_from(["a", "b", "c", None])
_new_jobs = st.builds(
    lambda name, data, priority, delay, job_id, key, keep, attempts: (
        name,
        data,
        JobOptions(
            priority=priority,
            delay=delay,
            job_id=job_id,
            idempotency_key=key,
            remove_on_complete=keep,
            attempts=attempts,
        ),
    ),
    st.sampled_from([ECHO, OTHER]),
    st.integers(-5, 5),
    st.integers(1, 10),
    st.sampled_from([0, 0, 0, 0, 0, HOUR_MS]),
    _ids,
    st.sampled_from(["k1", "k2", None, None]),
    st.sampled_from([None, True, 1, 2]),
    st.integers(1, 3),
)
_operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), _new_jobs),
        st.tuples(st.just("add_bulk"), st.lists(_new_jobs, min_size=1, max_size=3)),
        st.tuples(st.just("claim"), st.integers(1, 3)),
        st.tuples(st.just("claim"), st.integers(1, 3)),
        st.tuples(st.just("complete"), st.integers(0, 8)),
        st.tuples(st.just("fail"), st.tuples(st.integers(0, 8), st.sampled_from([None, 0, HOUR_MS]))),
        st.tuples(st.just("release"), st.integers(0, 8)),
        st.tuples(st.just("progress"), st.integers(0, 8)),
        st.tuples(st.just("extend"), st.integers(0, 8)),
        st.tuples(st.just("remove"), st.integers(0, 11)),
        st.tuples(st.just("reprocess"), st.integers(0, 11)),
        st.tuples(st.sampled_from(["pause", "resume", "reprocess_all", "purge"]), st.none()),
        st.tuples(st.just("clean"), st.sampled_from([JobState.COMPLETED, JobState.FAILED])),
    ),
    min_size=3,
    max_size=30,
)
# Every scenario starts with a few jobs in the queue, so claims and what follows them have work.
_scenarios = st.tuples(st.lists(_new_jobs, min_size=2, max_size=6), _operations).map(
    lambda parts: [("add_bulk", parts[0]), ("claim", 2), *parts[1]]
)


def _counter_ids() -> Callable[[], str]:
    numbers = iter(range(1, 10_000))
    return lambda: f"job-{next(numbers)}"


class _Side:
    """One adapter driven through the scenario, with what it handed out so far."""

    def __init__(self, queue: QueueBackend) -> None:
        self.queue = queue
        self.leases: list[LeaseRef] = []
        self.ids: list[str] = []

    def lease(self, index: int) -> LeaseRef | None:
        """Counting back from the newest lease, wrapping around: most indexes name a real lease."""
        return self.leases[-1 - index % len(self.leases)] if self.leases else None

    def job_id(self, index: int) -> str:
        return self.ids[-1 - index % len(self.ids)] if self.ids and index < 10 else "no-such-job"


async def _step(side: _Side, operation: str, argument: Any) -> Any:
    queue = side.queue
    if operation in ("add", "add_bulk"):
        entries = [argument] if operation == "add" else argument
        jobs = await queue.add_bulk([NewJob(name, data, options) for name, data, options in entries])
        side.ids.extend(job.id for job in jobs if job.id not in side.ids)
        return [(job.id, job.state, job.deduplicated) for job in jobs]
    if operation == "claim":
        claimed = await queue.claim(ClaimRequest("w", argument, 60_000, block_ms=1))
        side.leases.extend(LeaseRef(c.job.id, c.token) for c in claimed)
        return [(c.job.id, c.job.attempts_started) for c in claimed]
    if operation in ("complete", "fail", "release", "progress", "extend"):
        index = argument[0] if operation == "fail" else argument
        lease = side.lease(index)
        if lease is None:
            return "no lease"
        if operation == "complete":
            return await queue.complete(lease, json.dumps({"by": lease.job_id}))
        if operation == "fail":
            return await queue.fail(lease, FailureReport(f"boom {index}", None, argument[1]))
        if operation == "release":
            return await queue.release("w", [lease])
        if operation == "progress":
            return await queue.update_progress(lease, index * 10)
        return await queue.extend_leases("w", [lease], 60_000)
    if operation == "remove":
        return await queue.remove_job(side.job_id(argument))
    if operation == "reprocess":
        return await queue.reprocess_dead_letter(side.job_id(argument))
    if operation == "clean":
        await asyncio.sleep(0.003)  # every finished job is now strictly older than the grace of 0 ms
        return await queue.clean(0, argument, 1000)
    if operation == "purge":
        await asyncio.sleep(0.003)
        return await queue.purge_dead_letters(0)
    if operation == "reprocess_all":
        return await queue.reprocess_dead_letters()
    return await getattr(queue, operation)()


async def _observe(side: _Side) -> Any:
    jobs = []
    for job_id in side.ids:
        job = await side.queue.get_job(job_id)
        if job is not None:
            job = (
                job.id, job.name, job.data, job.state, job.priority, job.progress, job.return_value,
                job.failed_reason, job.stacktrace, job.attempts_started, job.attempts_made,
            )  # fmt: skip
        jobs.append(job)
    letters = [
        (d.job_id, d.reason, d.attempts_made, d.last_error) for d in await side.queue.list_dead_letters()
    ]
    return await side.queue.get_stats(), await side.queue.is_paused(), jobs, letters


async def _cross_check(url: str, operations: list[tuple[str, Any]]) -> None:
    queue_name = unique_queue_name("pbt")
    types = contract_job_types()
    redis_broker = RedisBroker(RedisSettings(url=url))
    memory = MemoryBroker()
    try:
        sides = [
            _Side(
                await broker.open_queue(
                    JobFactory(queue_name, types, fast_defaults(), id_factory=_counter_ids())
                )
            )
            for broker in (redis_broker, memory)
        ]
        for number, (operation, argument) in enumerate(operations):
            outcomes = [await _step(side, operation, argument) for side in sides]
            assert outcomes[0] == outcomes[1], f"step {number} {operation}({argument!r})"
            observed = [await _observe(side) for side in sides]
            assert observed[0] == observed[1], f"after step {number} {operation}({argument!r})"
    finally:
        await redis_broker.close()
        await memory.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=_scenarios)
def test_redis_adapter_and_state_machine_agree_on_random_operation_sequences(
    redis_broker: BrokerHandle, operations: list[tuple[str, Any]]
) -> None:
    asyncio.run(_cross_check(redis_broker.url, operations))


async def _backbone_clients(client: aioredis.Redis) -> int:
    listed = await client.client_list()
    return sum(1 for entry in listed if entry.get("name") == "messaging-backbone")


class _ClosedWhenTheWaitIsEnded(RedisConnection):
    """Closes itself at the moment a wait's end (CLIENT UNBLOCK) is sent: the race a worker's stop can hit."""

    closing: asyncio.Task[None] | None = None

    def _unblock(self, client_id: int) -> None:
        super()._unblock(client_id)
        self.closing = asyncio.ensure_future(self.close())


async def test_closing_while_a_wait_is_being_ended_leaves_no_connection_open(redis_broker: BrokerHandle) -> None:
    async with raw_client(redis_broker) as client:
        before = await _backbone_clients(client)
        connection = _ClosedWhenTheWaitIsEnded(RedisSettings(url=redis_broker.url))
        await asyncio.gather(
            connection.wait_for_signal(f"{unique_queue_name('rd')}:marker", 0.05), return_exceptions=True
        )
        assert connection.closing is not None
        await connection.closing
        await asyncio.sleep(0.2)  # time for a late UNBLOCK to open a connection
        assert await _backbone_clients(client) == before
