"""What only the RabbitMQ adapter promises, against a real RabbitMQ node (the shared contract is
``tests/contract/test_rabbitmq.py``): its log ports, raw publishers, snapshots, node restarts.

One node serves the whole session (``rabbitmq_broker`` from ``tests/conftest.py``); every test uses
a fresh queue name, so its streams and election queue are its own. Every ``open_queue`` is a new
``RabbitMQBroker`` with its own connection, as another process would have.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pika
import pytest

from adapters.rabbitmq import RabbitMQBroker, RabbitMQSettings
from adapters.rabbitmq.connection import AmqpLink
from adapters.rabbitmq.leader_election import SingleActiveConsumerElection
from adapters.rabbitmq.snapshot_store import StreamSnapshotStore
from adapters.rabbitmq.stream_log import StreamLog
from adapters.rabbitmq.topology import QueueTopology
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.queue_backend import QueueBackend
from application.replication.log_port import LogRecord
from application.replication.replicated_queue import ReplicatedQueue
from backbone.testing.contract.brokers import broker_under_test
from backbone.testing.contract.helpers import eventually, unique_queue_name
from backbone.testing.contract.support import CONTRACT_SECRET
from domain.queue.errors import BrokerUnavailableError, InvalidJobError
from domain.queue.job import JobState
from domain.queue.metadata import JobMetadata
from domain.queue.options import KeepJobs, QueueDefaults
from tests.harness.handle import BrokerHandle

TEST_SETTINGS = RabbitMQSettings(connect_timeout_ms=3_000, operation_timeout_ms=5_000)


def publish_raw(url: str, routing_key: str, body: bytes, headers: dict[str, Any] | None = None) -> None:
    """Publish like any AMQP client could, with a blocking pika connection of its own."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("", routing_key, body, pika.BasicProperties(headers=headers))
    finally:
        connection.close()


# --- the three log ports on their own ---------------------------------------------------------------


@pytest.fixture
async def link(rabbitmq_broker: BrokerHandle) -> AsyncIterator[AmqpLink]:
    opened = AmqpLink(rabbitmq_broker.url, TEST_SETTINGS)
    yield opened
    await opened.close()


@pytest.fixture
def topology() -> QueueTopology:
    return QueueTopology.of("porttest", unique_queue_name("rmq"))


async def read(log: StreamLog, from_offset: int, count: int) -> list[LogRecord]:
    records: list[LogRecord] = []

    async def collect() -> None:
        async for record in log.tail(from_offset):
            records.append(record)
            if len(records) == count:
                return

    await asyncio.wait_for(collect(), 10)
    return records


async def test_appended_records_are_tailed_in_order_with_increasing_offsets(
    link: AmqpLink, topology: QueueTopology
) -> None:
    log = StreamLog(link, topology.log_stream, TEST_SETTINGS)
    await log.open()
    await log.append([b"one", b"two"])
    await log.append([b"three"])
    records = await read(log, 0, 3)
    assert [r.payload for r in records] == [b"one", b"two", b"three"]
    assert [r.offset for r in records] == sorted({r.offset for r in records})
    await log.close()


async def test_tail_restarts_exactly_at_the_given_offset(link: AmqpLink, topology: QueueTopology) -> None:
    log = StreamLog(link, topology.log_stream, TEST_SETTINGS)
    await log.open()
    await log.append([f"r{i}".encode() for i in range(50)])
    first = await read(log, 0, 50)
    resumed = await read(log, first[37].offset, 13)
    assert [r.payload for r in resumed] == [f"r{i}".encode() for i in range(37, 50)]
    await log.close()


async def test_barrier_is_above_every_record_appended_before_it(
    link: AmqpLink, topology: QueueTopology
) -> None:
    log = StreamLog(link, topology.log_stream, TEST_SETTINGS)
    await log.open()
    await log.append([b"a", b"b", b"c"])
    without_tail = await log.barrier()
    seen: list[LogRecord] = []

    async def tail() -> None:
        async for record in log.tail(0):
            seen.append(record)

    tailing = asyncio.create_task(tail())
    await log.append([b"d"])
    with_tail = await asyncio.wait_for(log.barrier(), 10)
    # the marker itself is a record every replica applies: reading up to it means reading everything before
    await eventually(lambda: _true(any(r.offset == with_tail - 1 for r in seen)), message="the marker")
    tailing.cancel()
    offsets = {r.payload: r.offset for r in seen}
    assert max(offsets[b"a"], offsets[b"b"], offsets[b"c"]) < without_tail
    assert offsets[b"d"] < with_tail
    await log.close()


async def test_snapshot_round_trips_and_the_newest_complete_one_wins(
    link: AmqpLink, topology: QueueTopology, rabbitmq_broker: BrokerHandle
) -> None:
    settings = RabbitMQSettings(snapshot_chunk_bytes=7)
    store = StreamSnapshotStore(link, topology.snapshot_stream, settings)
    assert await store.load_latest() is None
    await store.save(10, b"first snapshot, several chunks")
    await store.save(25, b"second snapshot, also chunked")
    headers = {"jq-snapshot": "torn", "jq-chunk": 0, "jq-chunks": 3, "jq-next-offset": 99}
    await asyncio.to_thread(publish_raw, rabbitmq_broker.url, topology.snapshot_stream, b"torn", headers)
    await asyncio.to_thread(publish_raw, rabbitmq_broker.url, topology.snapshot_stream, b"\xff raw junk")
    assert await store.load_latest() == (25, b"second snapshot, also chunked")
    await store.close()


async def test_leadership_moves_to_another_process_when_the_leaders_connection_closes(
    rabbitmq_broker: BrokerHandle, topology: QueueTopology
) -> None:
    settings = RabbitMQSettings(leader_ping_ms=100)
    first_link, second_link = AmqpLink(rabbitmq_broker.url, settings), AmqpLink(rabbitmq_broker.url, settings)
    first = SingleActiveConsumerElection(first_link, topology.leader_queue, settings)
    second = SingleActiveConsumerElection(second_link, topology.leader_queue, settings)
    try:
        await first.start()
        await eventually(lambda: _true(first.is_leader()), timeout_s=10, message="a first leader")
        await second.start()
        await asyncio.sleep(0.5)
        assert not second.is_leader()
        await first_link.close()
        await eventually(lambda: _true(second.is_leader()), timeout_s=10, message="a failover")
        assert not first.is_leader()
    finally:
        await first.stop()
        await second.stop()
        await first_link.close()
        await second_link.close()


async def _true(value: bool) -> bool | None:
    return True if value else None


async def test_unreachable_node_is_reported_within_the_connect_timeout_without_the_password() -> None:
    settings = RabbitMQSettings(connect_timeout_ms=500, operation_timeout_ms=500)
    link = AmqpLink(f"amqp://user:{CONTRACT_SECRET}@127.0.0.1:9/%2F", settings)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError) as raised:
        await link.channel()
    assert time.monotonic() - started < 2
    assert CONTRACT_SECRET not in str(raised.value)
    await link.close()


async def test_wrong_password_is_a_clear_error_without_the_password(rabbitmq_broker: BrokerHandle) -> None:
    url = rabbitmq_broker.url.replace("guest:guest@", f"guest:{CONTRACT_SECRET}@")
    broker = RabbitMQBroker(url, TEST_SETTINGS)
    with pytest.raises(BrokerUnavailableError) as raised:
        await broker.open_queue(JobFactory(unique_queue_name(), JobTypes(strict=False)))
    assert CONTRACT_SECRET not in str(raised.value)
    await broker.close()


async def test_a_handle_reconnects_by_itself_after_its_connection_is_cut(
    rabbitmq_broker: BrokerHandle,
) -> None:
    broker = RabbitMQBroker(rabbitmq_broker.url, TEST_SETTINGS)
    queue = await broker.open_queue(JobFactory(unique_queue_name(), JobTypes(strict=False)))
    try:
        before = await queue.add("contract.echo.v1", {"n": 1})
        broker.drop_connections()
        after = await eventually(lambda: _add_or_none(queue), timeout_s=20, message="an add after the cut")
        stats = await queue.get_stats()
        assert stats.waiting == 2
        assert await queue.get_job(before.id) is not None
        assert await queue.get_job(after.id) is not None
    finally:
        await queue.close()
        await broker.close()


async def _add_or_none(queue: QueueBackend) -> Any:
    try:
        return await queue.add("contract.echo.v1", {"n": 2, "nonce": uuid.uuid4().hex})
    except BrokerUnavailableError:
        return None


# --- raw clients writing into the adapter's streams --------------------------------------------------

RAW_RECORDS = [
    pytest.param(b"x" * (5 * 1024 * 1024), id="oversize"),
    pytest.param(b'{"v":1,"a":"raw-client","b":[[1,{"t":"no-such-event"}]]}', id="unknown-event"),
    pytest.param(b'{"v":1,"a":"raw-client","b":[[1,{"t":"add"}]]}', id="event-with-wrong-schema"),
    pytest.param(b'{"v":99,"a":"raw-client","b":[]}', id="unknown-record-version"),
]


@pytest.mark.parametrize("raw", RAW_RECORDS)
async def test_a_raw_record_is_dead_lettered_the_same_way_by_every_process_and_the_queue_goes_on(
    rabbitmq_broker: BrokerHandle, raw: bytes
) -> None:
    name = unique_queue_name()
    first, second = (
        RabbitMQBroker(rabbitmq_broker.url, TEST_SETTINGS),
        RabbitMQBroker(rabbitmq_broker.url, TEST_SETTINGS),
    )
    try:
        one = await first.open_queue(JobFactory(name, JobTypes(strict=False)))
        two = await second.open_queue(JobFactory(name, JobTypes(strict=False)))
        stream = QueueTopology.of(TEST_SETTINGS.key_prefix, name).log_stream
        await asyncio.to_thread(publish_raw, rabbitmq_broker.url, stream, raw)
        after = await one.add("contract.echo.v1", {"after": "raw"})
        letters_one = await one.list_dead_letters()
        letters_two = await two.list_dead_letters()
        assert [(d.job_id, d.reason) for d in letters_one] == [(d.job_id, d.reason) for d in letters_two]
        assert len(letters_one) == 1 and letters_one[0].reason
        assert (await two.get_job(after.id)) is not None
    finally:
        await first.close()
        await second.close()


async def test_an_add_whose_metadata_has_the_wrong_type_is_refused_at_once_and_no_process_stores_anything(
    rabbitmq_broker: BrokerHandle,
) -> None:
    name = unique_queue_name()
    first, second = (
        RabbitMQBroker(rabbitmq_broker.url, TEST_SETTINGS),
        RabbitMQBroker(rabbitmq_broker.url, TEST_SETTINGS),
    )
    try:
        adder = await first.open_queue(JobFactory(name, JobTypes(strict=False)))
        other = await second.open_queue(JobFactory(name, JobTypes(strict=False)))
        with pytest.raises(InvalidJobError) as raised:  # not BrokerUnavailableError after a timeout
            await adder.add("contract.echo.v1", {}, metadata=JobMetadata(tenant_id=42))  # type: ignore[arg-type]
        good = await adder.add("contract.echo.v1", {})

        assert "tenant_id" in raised.value.field
        for handle in (adder, other):
            assert (await handle.get_stats()).waiting == 1
            assert await handle.list_dead_letters() == []
        assert (await other.get_job(good.id)) is not None
    finally:
        await first.close()
        await second.close()


async def test_a_new_process_starts_from_the_newest_snapshot_and_sees_the_same_state(
    rabbitmq_broker: BrokerHandle,
) -> None:
    name = unique_queue_name()
    writer = RabbitMQBroker(rabbitmq_broker.url, TEST_SETTINGS)
    reader = RabbitMQBroker(rabbitmq_broker.url, TEST_SETTINGS)
    try:
        queue = await writer.open_queue(JobFactory(name, JobTypes(strict=False)))
        jobs = [await queue.add("contract.echo.v1", {"i": i}) for i in range(30)]
        assert isinstance(queue, ReplicatedQueue)
        covered = await queue.engine.snapshot_now()
        late = await queue.add("contract.echo.v1", {"i": "after the snapshot"})
        fresh = await reader.open_queue(JobFactory(name, JobTypes(strict=False)))
        assert isinstance(fresh, ReplicatedQueue)
        assert covered >= 30
        assert (await fresh.get_stats()).waiting == 31
        assert fresh.engine.replica.records_applied < 10  # the records after the snapshot, not all 30 adds
        for job in [*jobs, late]:
            assert await fresh.get_job(job.id) is not None
    finally:
        await writer.close()
        await reader.close()


# --- a node restart in the middle of a run -------------------------------------------------------------


@pytest.mark.parametrize("graceful", [True, False], ids=["stop", "sigkill"])
async def test_node_restart_mid_run_loses_no_acknowledged_job_and_everyone_reconnects(
    rabbitmq_broker: BrokerHandle, graceful: bool
) -> None:
    if not rabbitmq_broker.restartable:
        pytest.skip("the node comes from BACKBONE_TEST_AMQP_URL: the tests cannot restart it")
    under_test = broker_under_test(rabbitmq_broker.url, interrupt=rabbitmq_broker.arestart)
    name = unique_queue_name()
    try:
        keep_all = QueueDefaults(attempts=3, remove_on_complete=KeepJobs())  # every completed job is counted
        queue = await under_test.open_queue(name, JobTypes(strict=False), keep_all)
        worker = await under_test.start_second_worker(name, ["contract.echo.v1"], "record", concurrency=4)
        await worker.wait_ready(30)
        acknowledged: list[str] = []
        stop = asyncio.Event()

        async def produce() -> None:
            while not stop.is_set():
                try:
                    acknowledged.append((await queue.add("contract.echo.v1", {"n": len(acknowledged)})).id)
                except BrokerUnavailableError:
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.01)

        producing = asyncio.create_task(produce())
        await eventually(
            lambda: _true(len(acknowledged) >= 20), timeout_s=20, message="jobs before the restart"
        )
        before = len(acknowledged)
        await rabbitmq_broker.arestart(graceful=graceful)
        await eventually(
            lambda: _true(len(acknowledged) >= before + 20), timeout_s=60, message="adds after it"
        )
        stop.set()
        await producing

        async def drained() -> bool | None:
            # an add that raised during the outage may still have been stored: such extra jobs are
            # fine, so wait for the queue to drain rather than for an exact count
            stats = await queue.get_stats()
            return True if stats.waiting == stats.active == stats.delayed == 0 else None

        await eventually(drained, timeout_s=60, message="the queue to drain")
        assert (await queue.get_stats()).completed >= len(acknowledged)
        for job_id in acknowledged:
            job = await queue.get_job(job_id)
            assert job is not None and job.state is JobState.COMPLETED
    finally:
        await under_test.close()


async def test_records_deleted_by_retention_before_a_reader_got_them_are_reported_loudly(
    link: AmqpLink, topology: QueueTopology, caplog: pytest.LogCaptureFixture
) -> None:
    tiny = RabbitMQSettings(log_max_length_bytes=4_000, log_max_segment_bytes=1_000)
    log = StreamLog(link, topology.log_stream, tiny)
    await log.open()
    for _ in range(20):
        await log.append([b"x" * 400] * 5)
    first = (await read(log, 0, 1))[0]
    assert first.offset > 0  # retention removed the oldest segments
    assert any("deleted by retention" in r.getMessage() for r in caplog.records)
    await log.close()


async def test_a_raw_message_that_forges_its_offset_header_is_read_at_its_true_position(
    link: AmqpLink, topology: QueueTopology, rabbitmq_broker: BrokerHandle
) -> None:
    log = StreamLog(link, topology.log_stream, TEST_SETTINGS)
    await log.open()
    await log.append([b"honest"])
    forged = {"x-stream-offset": 1_000_000}
    await asyncio.to_thread(publish_raw, rabbitmq_broker.url, topology.log_stream, b"forged", forged)
    await log.append([b"after"])
    records = await read(log, 0, 3)
    assert [r.payload for r in records] == [b"honest", b"forged", b"after"]
    assert records[1].offset == records[0].offset + 1
    await log.close()


def delete_queue(url: str, name: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().queue_delete(name)
    finally:
        connection.close()


async def test_appending_to_a_deleted_stream_fails_instead_of_being_confirmed_into_nowhere(
    link: AmqpLink, topology: QueueTopology, rabbitmq_broker: BrokerHandle
) -> None:
    log = StreamLog(link, topology.log_stream, TEST_SETTINGS)
    await log.open()
    await log.append([b"stored"])
    await asyncio.to_thread(delete_queue, rabbitmq_broker.url, topology.log_stream)
    with pytest.raises(BrokerUnavailableError, match="does not exist"):
        await log.append([b"lost"])
    await log.close()


async def test_a_process_refuses_to_load_the_queue_from_a_log_that_ends_before_its_snapshot(
    rabbitmq_broker: BrokerHandle,
) -> None:
    name = unique_queue_name()
    first = RabbitMQBroker(rabbitmq_broker.url, TEST_SETTINGS)
    queue = await first.open_queue(JobFactory(name, JobTypes(strict=False)))
    for i in range(5):
        await queue.add("contract.echo.v1", {"i": i})
    assert isinstance(queue, ReplicatedQueue)
    await queue.engine.snapshot_now()
    await first.close()
    log_stream = QueueTopology.of(TEST_SETTINGS.key_prefix, name).log_stream
    await asyncio.to_thread(delete_queue, rabbitmq_broker.url, log_stream)
    second = RabbitMQBroker(rabbitmq_broker.url, TEST_SETTINGS)
    try:
        reopened = await second.open_queue(JobFactory(name, JobTypes(strict=False)))
        with pytest.raises(BrokerUnavailableError, match="ends before the restored state"):
            await reopened.get_stats()  # the first operation that needs the queue's state loads it
    finally:
        await second.close()


async def test_an_open_handle_reports_a_stopped_node_within_the_timeout_and_recovers_when_it_is_back(
    rabbitmq_broker: BrokerHandle,
) -> None:
    if not rabbitmq_broker.restartable:
        pytest.skip("the node comes from BACKBONE_TEST_AMQP_URL: the tests cannot stop it")
    settings = RabbitMQSettings(connect_timeout_ms=1_000, operation_timeout_ms=2_000)
    broker = RabbitMQBroker(rabbitmq_broker.url, settings)
    try:
        queue = await broker.open_queue(JobFactory(unique_queue_name(), JobTypes(strict=False)))
        await rabbitmq_broker.astop()
        try:
            started = time.monotonic()
            with pytest.raises(BrokerUnavailableError) as raised:
                await queue.add("contract.echo.v1", {"when": "down"})
            assert time.monotonic() - started < 5
            assert "guest:guest" not in str(raised.value)
        finally:
            await rabbitmq_broker.astart()
        job = await eventually(
            lambda: _add_or_none(queue), timeout_s=60, message="an add once the node is back"
        )
        assert await queue.get_job(job.id) is not None
    finally:
        await broker.close()
