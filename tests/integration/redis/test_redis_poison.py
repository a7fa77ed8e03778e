"""Redis: job hashes changed with a raw client (redis-py) never kill a worker or wedge the queue.

Each poison is a well-formed job hash (as ``add`` stored it) with one field overwritten: bad JSON,
nesting far past any decoder's limit, values of the wrong type, bytes that are not UTF-8. The rule
(docs/queue-contract.md, "decode boundary"): whatever does not decode becomes a dead letter with
its raw bytes and a reason; every good job still completes; listing and reading keep working.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.redis import RedisBroker, RedisQueue, RedisSettings
from application.jobs.job_factory import JobFactory
from application.state_machine.records import MALFORMED_JOB_NAME
from backbone.testing.contract.helpers import (
    ECHO,
    contract_job_types,
    eventually,
    fast_defaults,
    recording_handler,
    running_worker,
    unique_queue_name,
    wait_for_state,
)
from domain.queue.job import DeadLetter, JobState
from domain.queue.options import JobOptions
from tests.harness.handle import BrokerHandle
from tests.integration.redis.test_redis_adapter import raw_client

DEEP = b"[" * 100_000 + b"]" * 100_000

POISONS = [
    pytest.param("data", b"{not json", id="data-not-json"),
    pytest.param("data", DEEP, id="data-nested-100k-deep"),
    pytest.param("data", b'"\xff\xfe"', id="data-not-utf8"),
    pytest.param("opts", b"soon", id="options-not-json"),
    pytest.param("meta", b"\xff", id="metadata-not-utf8"),
    pytest.param("meta", b'["c",42,null,"s",1,{}]', id="tenant-id-as-int"),
    pytest.param("meta", b"[" + DEEP + b"]", id="metadata-nested-100k-deep"),
    pytest.param("name", b"\xff\xfe", id="name-not-utf8"),
    pytest.param("created", b"yesterday", id="created-not-a-number"),
    pytest.param("progress", b"{bad", id="progress-not-json"),
    pytest.param("stack", b"not a list", id="stack-not-json"),
]


@pytest.fixture
async def queue(redis_broker: BrokerHandle) -> AsyncIterator[RedisQueue]:
    broker = RedisBroker(RedisSettings(url=redis_broker.url))
    handle = await broker.open_queue(
        JobFactory(unique_queue_name("rp"), contract_job_types(), fast_defaults())
    )
    yield handle
    await broker.close()


async def _poisoned(server: BrokerHandle, queue: RedisQueue, field: str, value: bytes) -> str:
    """A job added normally, then one of its hash fields overwritten by a raw client."""
    job = await queue.add(ECHO, {"poisoned": field})
    async with raw_client(server) as client:
        await client.hset(queue.keys.job(job.id), field, value)
    return job.id


def _options_with(**changes: Any) -> bytes:
    stored = {
        "delay": 0,
        "attempts": 3,
        "priority": 5,
        "backoff": ["fixed", 50, None, 0.0],
        "timeout": 30_000,
        "rc": [1000, None],
        "rf": [None, 2_592_000_000],
        "job_id": None,
        "idem": None,
        "idem_ttl": 86_400_000,
    }
    stored.update(changes)
    return json.dumps(stored).encode()


async def _letter(queue: RedisQueue, job_id: str) -> DeadLetter | None:
    return next((letter for letter in await queue.list_dead_letters() if letter.job_id == job_id), None)


@pytest.mark.parametrize(("field", "value"), POISONS)
async def test_a_job_hash_field_overwritten_with_poison_is_dead_lettered_and_good_jobs_complete(
    redis_broker: BrokerHandle, queue: RedisQueue, field: str, value: bytes
) -> None:
    before = await queue.add(ECHO, {"good": "before"})
    poisoned = await _poisoned(redis_broker, queue, field, value)
    after = await queue.add(ECHO, {"good": "after"})
    calls: list[tuple[str, Any]] = []
    async with running_worker(queue, {ECHO: recording_handler(calls)}, concurrency=4):
        letter = await eventually(
            lambda: _letter(queue, poisoned), timeout_s=10, message="the poison's dead letter"
        )
        for good in (before, after):
            await wait_for_state(queue, good.id, JobState.COMPLETED)
        late = await queue.add(ECHO, {"good": "late"})
        await wait_for_state(queue, late.id, JobState.COMPLETED)
    assert (letter.name, letter.attempts_made) == (MALFORMED_JOB_NAME, 0)
    assert "does not decode" in letter.reason
    assert letter.raw_record
    assert sorted(job_id for job_id, _ in calls) == sorted([before.id, after.id, late.id])


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(_options_with(timeout="soon"), id="timeout-as-text"),
        pytest.param(_options_with(attempts=None), id="attempts-null"),
        pytest.param(_options_with(backoff=["fixed", "50", None, 0.0]), id="backoff-delay-as-text"),
        pytest.param(_options_with(priority=[5]), id="priority-as-list"),
    ],
)
async def test_stored_options_of_the_wrong_types_dead_letter_the_job_at_once_instead_of_crashing_a_slot(
    redis_broker: BrokerHandle, queue: RedisQueue, options: bytes
) -> None:
    poisoned = await _poisoned(redis_broker, queue, "opts", options)
    async with running_worker(queue, {ECHO: recording_handler([])}, lease_ms=500):
        letter = await eventually(
            lambda: _letter(queue, poisoned), timeout_s=10, message="a malformed dead letter"
        )
        good = await queue.add(ECHO, {"good": True})
        await wait_for_state(queue, good.id, JobState.COMPLETED)
    assert letter.name == MALFORMED_JOB_NAME  # not the job's own name after attempts lost to lease expiries
    assert "does not decode" in letter.reason
    assert letter.raw_record is not None and b'"opts"' in letter.raw_record  # every field, as stored


async def test_a_dead_letter_whose_id_is_not_utf8_is_listed_with_the_others_and_can_be_read_back(
    redis_broker: BrokerHandle, queue: RedisQueue
) -> None:
    good = await queue.add(ECHO, {}, JobOptions(attempts=1))
    bad_id = b"raw-\xff\xfe"
    async with raw_client(redis_broker) as client:
        stored = await client.hgetall(queue.keys.job(good.id))
        await client.hset(queue.keys.job(good.id).encode()[: -len(good.id)] + bad_id, mapping=stored)
        await client.zadd(queue.keys.failed, {bad_id: 10**12})
    async with running_worker(queue, {ECHO: _always_fails}):
        await wait_for_state(queue, good.id, JobState.FAILED)
    letters = await queue.list_dead_letters()
    assert {letter.job_id for letter in letters} == {good.id, bad_id.decode("utf-8", "surrogateescape")}
    [odd] = [letter for letter in letters if letter.job_id != good.id]
    seen = await queue.get_job(odd.job_id)
    assert seen is not None and seen.id == odd.job_id
    assert await queue.reprocess_dead_letter(odd.job_id)


async def test_a_waiting_job_whose_id_is_not_utf8_is_dead_lettered_and_the_other_jobs_complete(
    redis_broker: BrokerHandle, queue: RedisQueue
) -> None:
    template = await queue.add(ECHO, {"copied": True}, JobOptions(delay=3_600_000))
    bad_id = b"raw-\xff\xfe"
    async with raw_client(redis_broker) as client:
        stored = await client.hgetall(queue.keys.job(template.id))
        stored[b"state"] = b"waiting"
        await client.hset(queue.keys.job(template.id).encode()[: -len(template.id)] + bad_id, mapping=stored)
        await client.zadd(queue.keys.wait, {bad_id: 0})
    good = [await queue.add(ECHO, {"i": i}) for i in range(3)]
    calls: list[tuple[str, Any]] = []
    async with running_worker(queue, {ECHO: recording_handler(calls)}, concurrency=4):
        for job in good:
            await wait_for_state(queue, job.id, JobState.COMPLETED)
        [letter] = await eventually(queue.list_dead_letters, timeout_s=10, message="the dead letter")
    assert (letter.job_id, letter.name) == (bad_id.decode("utf-8", "surrogateescape"), MALFORMED_JOB_NAME)
    assert "not UTF-8" in letter.reason
    assert sorted(job_id for job_id, _ in calls) == sorted(job.id for job in good)


async def _always_fails(payload: Any, ctx: Any) -> None:
    raise RuntimeError("no")


async def test_a_dead_letter_whose_hash_does_not_decode_is_listed_with_its_raw_bytes(
    redis_broker: BrokerHandle, queue: RedisQueue
) -> None:
    job = await queue.add(ECHO, {}, JobOptions(attempts=1))
    async with running_worker(queue, {ECHO: _always_fails}):
        await wait_for_state(queue, job.id, JobState.FAILED)
    async with raw_client(redis_broker) as client:
        await client.hset(queue.keys.job(job.id), "data", DEEP)
    [letter] = await queue.list_dead_letters()
    assert (letter.job_id, letter.name, letter.raw_record) == (job.id, MALFORMED_JOB_NAME, DEEP)
    assert "does not decode" in letter.reason


async def test_get_job_with_an_id_holding_a_lone_surrogate_finds_nothing(queue: RedisQueue) -> None:
    assert await queue.get_job("id-\ud800") is None
    assert await queue.remove_job("id-\ud800") is False
    assert await queue.reprocess_dead_letter("id-\ud800") is False


async def test_get_job_of_a_waiting_job_that_does_not_decode_returns_it_as_a_malformed_dead_letter(
    redis_broker: BrokerHandle, queue: RedisQueue
) -> None:
    poisoned = await _poisoned(redis_broker, queue, "data", DEEP)
    job = await queue.get_job(poisoned)
    assert job is not None
    assert (job.name, job.state, job.raw_record) == (MALFORMED_JOB_NAME, JobState.FAILED, DEEP)
    stats = await queue.get_stats()
    assert (stats.waiting, stats.failed) == (0, 1)
    [letter] = await queue.list_dead_letters()
    assert letter.job_id == poisoned


async def test_adding_the_id_of_a_poisoned_job_alongside_other_adds_fails_none_of_them(
    redis_broker: BrokerHandle, queue: RedisQueue
) -> None:
    poisoned = await _poisoned(redis_broker, queue, "data", DEEP)
    adds = [queue.add(ECHO, {"i": i}) for i in range(10)]
    again = queue.add(ECHO, {}, JobOptions(job_id=poisoned))
    *good, duplicate = await asyncio.gather(*adds, again)
    assert sorted(job.data["i"] for job in good) == list(range(10))
    assert (duplicate.id, duplicate.deduplicated, duplicate.name) == (poisoned, True, MALFORMED_JOB_NAME)
    assert duplicate.raw_record == DEEP


# --- fuzz: random poison in random fields, mixed with good jobs ------------------------------------

_FIELDS = ["name", "data", "opts", "meta", "created", "progress", "stack", "as", "am", "prio", "attempts"]
_poison_values = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [b"{", b"null", b"[]", b"{}", b'"text"', b"-1", b"1e999", b"NaN", DEEP, b"[" * 2000 + b"]" * 2000]
    ),
    st.builds(
        lambda value: json.dumps(value).encode(),
        st.recursive(
            st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
            lambda inner: st.lists(inner, max_size=4),
            max_leaves=8,
        ),
    ),
)


async def _poison_run(url: str, poisons: list[tuple[str, bytes]]) -> None:
    broker = RedisBroker(RedisSettings(url=url))
    queue = await broker.open_queue(
        JobFactory(unique_queue_name("rz"), contract_job_types(), fast_defaults())
    )
    try:
        good = [await queue.add(ECHO, {"good": index}) for index in range(2)]
        poisoned = []
        async with _raw(url) as client:
            for field, value in poisons:
                job = await queue.add(ECHO, {"poisoned": field})
                await client.hset(queue.keys.job(job.id), field, value)
                poisoned.append(job.id)
        good.append(await queue.add(ECHO, {"good": "last"}))
        async with running_worker(queue, {ECHO: recording_handler([])}, concurrency=3, lease_ms=500):
            for job in good:
                await wait_for_state(queue, job.id, JobState.COMPLETED, timeout_s=15)
            for job_id in poisoned:  # a poison may still decode (a harmless field): then it completes
                await eventually(lambda job_id=job_id: _finished(queue, job_id), timeout_s=15, message=job_id)
        assert isinstance(await queue.list_dead_letters(), list)
    finally:
        await broker.close()
    fresh = RedisBroker(RedisSettings(url=url))
    try:
        reopened = await fresh.open_queue(JobFactory(queue.name, contract_job_types(), fast_defaults()))
        late = await reopened.add(ECHO, {"good": "fresh process"})
        async with running_worker(reopened, {ECHO: recording_handler([])}):
            await wait_for_state(reopened, late.id, JobState.COMPLETED)
    finally:
        await fresh.close()


async def _finished(queue: RedisQueue, job_id: str) -> bool:
    job = await queue.get_job(job_id)
    if job is None:
        return False
    if job.state is JobState.FAILED:
        return job.name == MALFORMED_JOB_NAME or bool(await _letter(queue, job_id))
    return job.state is JobState.COMPLETED


class _raw:  # noqa: N801 - ``async with _raw(url) as client``
    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.Redis.from_url(url)

    async def __aenter__(self) -> Any:
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(poisons=st.lists(st.tuples(st.sampled_from(_FIELDS), _poison_values), min_size=1, max_size=4))
def test_random_poison_in_job_hash_fields_ends_dead_lettered_or_completed_and_the_queue_goes_on(
    redis_broker: BrokerHandle, poisons: list[tuple[str, bytes]]
) -> None:
    asyncio.run(_poison_run(redis_broker.url, poisons))
