"""What only the Kafka adapter promises, against a Kafka-protocol broker (Tansu locally; the shared
contract is ``tests/contract/test_kafka.py``): the outage behaviour with every connection cut, its
topics, raw records written by a plain Kafka client, two worker processes with one SIGKILLed
mid-job, start-up from a snapshot.

Locally the broker runs behind a TCP proxy that it advertises to clients, so an outage is a cut of
every connection (Tansu keeps records in memory only: a restart would empty it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from adapters.kafka import KafkaSettings
from adapters.kafka.topics import QueueTopics
from application.replication.replicated_queue import ReplicatedQueue
from backbone.testing.contract.brokers import broker_under_test
from backbone.testing.contract.helpers import (
    ECHO,
    SLOW,
    contract_job_types,
    eventually,
    fast_defaults,
    unique_queue_name,
    wait_for_state,
)
from backbone.testing.contract.process_worker import ProcessWorker
from backbone.testing.contract.queue_contract import QueueContract
from backbone.testing.contract.reliability_behaviours import ReliabilityBehaviours
from backbone.testing.contract.support import BrokerUnderTest
from domain.queue.errors import InvalidJobError
from domain.queue.job import JobState, NewJob
from domain.queue.metadata import JobMetadata
from tests.harness.kafka_site import KafkaSite

PREFIX = KafkaSettings(url="kafka://x:1").key_prefix  # the default: what the worker process uses too


class KafkaUnderTest:
    """The harness's Kafka as the contract drives it, plus a raw producer that can set a key."""

    def __init__(self, site: KafkaSite) -> None:
        self.site = site
        self.contract = broker_under_test(site.url, interrupt=site.interrupt)

    async def open_queue(self, queue: str) -> ReplicatedQueue:
        handle = await self.contract.open_queue(queue, contract_job_types(), fast_defaults())
        assert isinstance(handle, ReplicatedQueue)
        return handle

    async def write_raw_record(self, queue: str, raw: bytes | None, *, key: bytes | None = None) -> None:
        """A plain Kafka client appends ``raw`` (``None``: a tombstone) to the queue's log topic."""
        servers = KafkaSettings(url=self.site.url).bootstrap_servers
        producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", max_request_size=8 * 1024 * 1024)
        await producer.start()
        try:
            await producer.send_and_wait(QueueTopics.of(PREFIX, queue).log, raw, key=key, partition=0)
        finally:
            await producer.stop()


@pytest.fixture
async def kafka(kafka_site: KafkaSite) -> AsyncIterator[KafkaUnderTest]:
    under_test = KafkaUnderTest(kafka_site)
    yield under_test
    await under_test.contract.close()


class TestKafkaOutage:
    """The contract's outage behaviour with every connection cut: the harness's proxy, which the
    broker advertises (``backbone contract``'s own proxy reaches only the bootstrap connections)."""

    @pytest.fixture
    def broker(self, kafka: KafkaUnderTest) -> BrokerUnderTest:
        return kafka.contract

    queue = QueueContract.queue
    queue_name = QueueContract.queue_name
    job_types = QueueContract.job_types
    test_worker_reconnects_by_itself_after_an_outage_and_nothing_acknowledged_is_lost = ReliabilityBehaviours.test_worker_reconnects_by_itself_after_an_outage_and_nothing_acknowledged_is_lost


# --- what only the Kafka adapter promises -------------------------------------------------------------


async def _open(kafka: KafkaUnderTest, queue: str) -> ReplicatedQueue:
    return await kafka.open_queue(queue)


async def test_opening_a_queue_creates_its_log_snapshot_and_leader_topics(
    kafka: KafkaUnderTest,
) -> None:
    queue = unique_queue_name("kt")
    await _open(kafka, queue)
    admin = AIOKafkaAdminClient(bootstrap_servers=KafkaSettings(url=kafka.site.url).bootstrap_servers)
    await admin.start()
    try:
        names = set(await admin.list_topics())
    finally:
        await admin.close()

    assert {f"{PREFIX}.{queue}.log", f"{PREFIX}.{queue}.snapshots", f"{PREFIX}.{queue}.leader"} <= names


@pytest.mark.parametrize(
    ("raw", "key", "reason"),
    [
        pytest.param(None, b"k", "empty or null", id="null-value"),
        pytest.param(
            b'{"v":1,"a":"raw","b":[[1,{"t":"explode","now":1}]]}', None, "unknown event", id="unknown"
        ),
        pytest.param(
            b'{"v":1,"a":"raw","b":[[1,{"t":"pause","now":"x"}]]}', None, "integer", id="wrong-schema"
        ),
        pytest.param(b"x" * (2 * 1024 * 1024), None, "over", id="oversize"),
    ],
)
async def test_a_raw_record_is_dead_lettered_identically_by_every_process_with_a_reason(
    kafka: KafkaUnderTest, raw: bytes | None, key: bytes | None, reason: str
) -> None:
    queue = unique_queue_name("kt")
    first, second = await _open(kafka, queue), await _open(kafka, queue)

    await kafka.write_raw_record(queue, raw, key=key)
    letters = await eventually(first.list_dead_letters, timeout_s=10, message="a dead letter")
    good = await second.add(ECHO, {})

    assert letters == await second.list_dead_letters()
    assert reason in letters[0].reason
    assert letters[0].raw_record == (raw or b"")
    assert (await first.get_job(good.id)) is not None


async def test_a_range_of_the_log_is_read_back_in_order_up_to_its_end(
    kafka: KafkaUnderTest,
) -> None:
    queue = unique_queue_name("kt")
    handle = await _open(kafka, queue)
    for n in range(5):
        await handle.add(ECHO, {"n": n})

    async def offsets() -> list[int] | None:
        # a read may come back short when the broker is slow to answer (the tail brings the rest)
        offsets = [record.offset for record in await handle.engine.log.read_range(1, 4)]
        return offsets if len(offsets) == 3 else None

    assert await eventually(offsets, message="offsets 1..3") == [1, 2, 3]


async def test_an_add_whose_metadata_has_the_wrong_type_is_refused_and_no_process_stores_anything(
    kafka: KafkaUnderTest,
) -> None:
    queue = unique_queue_name("kt")
    adder, other = await _open(kafka, queue), await _open(kafka, queue)

    with pytest.raises(InvalidJobError) as raised:
        await adder.add(ECHO, {}, metadata=JobMetadata(tenant_id=42))  # type: ignore[arg-type]
    good = await adder.add(ECHO, {})

    assert "tenant_id" in raised.value.field
    for handle in (adder, other):
        assert (await handle.get_stats()).waiting == 1
        assert await handle.list_dead_letters() == []
    assert (await other.get_job(good.id)) is not None


async def test_two_worker_processes_one_killed_mid_job_lose_nothing(kafka: KafkaUnderTest) -> None:
    queue_name = unique_queue_name("kt")
    queue = await _open(kafka, queue_name)
    doomed = await kafka.contract.start_second_worker(
        queue_name, [SLOW], "suicide", concurrency=2, lease_ms=1000
    )
    await doomed.wait_ready(30)
    first = await queue.add_bulk(
        [NewJob(SLOW, {"sleep_ms": 30, "i": i}) for i in range(10)]
        + [NewJob(SLOW, {"kill_pid": doomed.pid, "sleep_ms": 30})]  # only the doomed worker runs yet
        + [NewJob(SLOW, {"sleep_ms": 30, "i": i}) for i in range(10, 20)]
    )
    survivor = await kafka.contract.start_second_worker(
        queue_name, [SLOW], "record", concurrency=2, lease_ms=1000
    )
    await survivor.wait_ready(30)
    later = await queue.add_bulk([NewJob(SLOW, {"sleep_ms": 10, "i": i}) for i in range(20, 50)])

    done = [await wait_for_state(queue, job.id, JobState.COMPLETED, timeout_s=60) for job in [*first, *later]]

    assert isinstance(doomed, ProcessWorker)
    assert await doomed.wait_exit(10) != 0  # it was SIGKILLed by its own handler, mid-job
    assert len(done) == 51
    assert (await queue.get_stats()).completed == 51
    assert any(job.attempts_started == 2 for job in done)  # what it held came back and ran again
    await survivor.stop(15)


async def test_a_new_process_starts_from_the_newest_snapshot(kafka: KafkaUnderTest) -> None:
    queue_name = unique_queue_name("kt")
    old = await _open(kafka, queue_name)
    await old.add_bulk([NewJob(ECHO, {"i": i}) for i in range(200)])
    covered = await old.engine.snapshot_now()
    await old.add(ECHO, {"after": "snapshot"})

    new = await _open(kafka, queue_name)
    stats = await new.get_stats()  # loads the new process's replica

    assert covered > 0
    assert new.engine.replica.records_applied <= new.engine.replica.next_offset - covered
    assert stats == await old.get_stats()


async def test_one_process_becomes_the_maintenance_leader(kafka: KafkaUnderTest) -> None:
    queue_name = unique_queue_name("kt")
    handles = [await _open(kafka, queue_name) for _ in range(2)]
    for handle in handles:
        await handle.get_stats()  # processes that hold the queue's state take part (ADR 0028)

    async def one_leader() -> bool:
        return sum(handle.engine.is_leader() for handle in handles) == 1

    await eventually(one_leader, timeout_s=30, message="one leader")


async def test_when_the_leader_closes_another_process_takes_over(kafka: KafkaUnderTest) -> None:
    queue_name = unique_queue_name("kt")
    handles = [await _open(kafka, queue_name) for _ in range(2)]
    for handle in handles:
        await handle.get_stats()  # processes that hold the queue's state take part (ADR 0028)

    async def the_leader() -> ReplicatedQueue | None:
        leaders = [handle for handle in handles if handle.engine.is_leader()]
        return leaders[0] if len(leaders) == 1 else None

    leader = await eventually(the_leader, timeout_s=30, message="one leader")
    await leader.close()
    [survivor] = [handle for handle in handles if handle is not leader]

    async def survivor_leads() -> bool:
        return survivor.engine.is_leader()

    await eventually(survivor_leads, timeout_s=10, message="the other process to take over")
