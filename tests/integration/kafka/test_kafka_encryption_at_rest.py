"""Encrypted payloads on the Kafka-protocol broker, read back raw with aiokafka from the queue's log
and snapshot topics: no record holds the plaintext (ADR 0023)."""

from __future__ import annotations

import logging

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from adapters.kafka import KafkaSettings
from adapters.kafka.topics import QueueTopics
from backbone.testing.contract.brokers import broker_under_test
from backbone.testing.contract.helpers import unique_queue_name
from tests.harness.kafka_site import KafkaSite
from tests.integration.encryption_at_rest import (
    assert_log_has_no_plaintext,
    assert_no_plaintext,
    decompressed_snapshots,
    store_encrypted_jobs,
)

pytestmark = pytest.mark.broker

PREFIX = KafkaSettings(url="kafka://x:1").key_prefix


async def _read_topic(url: str, topic: str) -> list[bytes]:
    """Every record of partition 0 of ``topic``, from the earliest offset to the end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=KafkaSettings(url=url).bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        while await consumer.position(partition) < end:
            batch = await consumer.getmany(partition, timeout_ms=1000)
            values.extend(record.value for record in batch.get(partition, []) if record.value is not None)
    finally:
        await consumer.stop()
    return values


async def test_kafka_topics_hold_only_envelopes_of_an_encrypted_queue_log_and_snapshot_alike(
    kafka_site: KafkaSite, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    queue = unique_queue_name("enc")
    contract = broker_under_test(kafka_site.url)
    try:
        scenario = await store_encrypted_jobs(contract, queue)
        assert await scenario.handle.inner.engine.snapshot_now() > 0  # type: ignore[attr-defined]
        await scenario.handle.close()
        topics = QueueTopics.of(PREFIX, queue)
        log = await _read_topic(kafka_site.url, topics.log)
        snapshots = await _read_topic(kafka_site.url, topics.snapshots)
        assert snapshots, "the snapshot topic is empty"
        assert_no_plaintext([*log, *snapshots, *decompressed_snapshots(snapshots)], scenario)
        assert_log_has_no_plaintext(caplog.text, scenario)
    finally:
        await contract.close()
