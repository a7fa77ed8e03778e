"""Encrypted payloads on RabbitMQ, read back raw with pika from the queue's log and snapshot streams:
no record holds the plaintext (ADR 0023)."""

from __future__ import annotations

import asyncio
import logging

import pika
import pytest

from adapters.rabbitmq.topology import QueueTopology
from application.broker import DEFAULT_KEY_PREFIX
from backbone.testing.contract.brokers import broker_under_test
from backbone.testing.contract.helpers import unique_queue_name
from tests.harness.handle import BrokerHandle
from tests.integration.encryption_at_rest import (
    assert_log_has_no_plaintext,
    assert_no_plaintext,
    decompressed_snapshots,
    store_encrypted_jobs,
)

pytestmark = pytest.mark.broker


def _read_stream(url: str, stream: str) -> list[bytes]:
    """Every message of ``stream`` from its first offset, with a plain pika consumer."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    bodies: list[bytes] = []
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=500)
        for method, _properties, body in channel.consume(
            stream, arguments={"x-stream-offset": "first"}, inactivity_timeout=1.0
        ):
            if method is None:  # a second without a message: the end of the stream
                break
            bodies.append(body)
            channel.basic_ack(method.delivery_tag)
        channel.cancel()
    finally:
        connection.close()
    return bodies


async def test_rabbitmq_streams_hold_only_envelopes_of_an_encrypted_queue_log_and_snapshot_alike(
    rabbitmq_broker: BrokerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    queue = unique_queue_name("enc")
    contract = broker_under_test(rabbitmq_broker.url)
    try:
        scenario = await store_encrypted_jobs(contract, queue)
        assert await scenario.handle.inner.engine.snapshot_now() > 0  # type: ignore[attr-defined]
        await scenario.handle.close()
        topology = QueueTopology.of(DEFAULT_KEY_PREFIX, queue)
        log = await asyncio.to_thread(_read_stream, rabbitmq_broker.url, topology.log_stream)
        snapshots = await asyncio.to_thread(_read_stream, rabbitmq_broker.url, topology.snapshot_stream)
        assert snapshots, "the snapshot stream is empty"
        assert_no_plaintext([*log, *snapshots, *decompressed_snapshots(snapshots)], scenario)
        assert_log_has_no_plaintext(caplog.text, scenario)
    finally:
        await contract.close()
