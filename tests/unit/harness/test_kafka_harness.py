"""The harness's Kafka-protocol broker (Tansu): produce and consume at its URL, restart on the same port."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from tests.harness.brokers import start_local_kafka
from tests.harness.handle import BrokerHandle
from tests.harness.proxied import start_local_kafka_behind_proxy


def _bootstrap(url: str) -> str:
    return urlsplit(url).netloc


async def _round_trip(url: str, value: bytes) -> bytes:
    topic = f"harness-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=_bootstrap(url), request_timeout_ms=5000)
    await admin.start()
    try:  # explicitly one partition: Tansu auto-creates topics with several
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=_bootstrap(url), acks="all", request_timeout_ms=5000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=_bootstrap(url), enable_auto_commit=False, request_timeout_ms=5000
    )
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek(partition, 0)
        record = await asyncio.wait_for(consumer.getone(), timeout=10)
        return bytes(record.value or b"")
    finally:
        await consumer.stop()


async def test_kafka_broker_round_trips_a_record(kafka_broker: BrokerHandle) -> None:
    assert await _round_trip(kafka_broker.url, b"hello") == b"hello"


async def test_kafka_broker_serves_again_on_the_same_url_after_restart() -> None:
    broker = start_local_kafka()  # its own broker: a restart empties Tansu's memory storage
    try:
        url_before = broker.url

        await broker.arestart()

        assert broker.url == url_before
        assert await _round_trip(broker.url, b"after restart") == b"after restart"
    finally:
        broker.close()


async def test_kafka_behind_a_proxy_is_unreachable_while_cut_and_serves_again_after_restore() -> None:
    proxied = start_local_kafka_behind_proxy()
    try:
        assert await _round_trip(proxied.url, b"through the proxy") == b"through the proxy"

        await proxied.acut()
        with pytest.raises(KafkaError):
            await _round_trip(proxied.url, b"cut")
        await proxied.arestore()

        assert await _round_trip(proxied.url, b"restored") == b"restored"
    finally:
        proxied.close()
