"""The harness's RabbitMQ: reachable at its URL, streams work, restartable on the same port."""

from __future__ import annotations

import time

import pika
import pika.exceptions
import pytest
from tests.harness.brokers import start_local_rabbitmq
from tests.harness.handle import BrokerHandle
from tests.harness.proxied import behind_proxy


def _connect(url: str) -> pika.BlockingConnection:
    params = pika.URLParameters(url)
    params.socket_timeout = 5
    params.blocked_connection_timeout = 5
    return pika.BlockingConnection(params)


def _publish_and_read_first(url: str, queue: str, body: bytes) -> tuple[object, bytes]:
    """Append ``body`` to a stream, then return (x-stream-offset, body) of the stream's first record."""
    connection = _connect(url)
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "stream"})
        channel.confirm_delivery()
        channel.basic_publish("", queue, body)
        channel.basic_qos(prefetch_count=1)
        received: list[tuple[object, bytes]] = []

        def on_message(ch: object, method: object, properties: pika.BasicProperties, data: bytes) -> None:
            if not received:
                received.append(((properties.headers or {}).get("x-stream-offset"), data))

        channel.basic_consume(queue, on_message, arguments={"x-stream-offset": "first"})
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            connection.process_data_events(time_limit=0.1)
        assert received, "no record read back from the stream within 10s"
        return received[0]
    finally:
        connection.close()


def test_rabbitmq_broker_serves_streams_with_numeric_offsets(rabbitmq_broker: BrokerHandle) -> None:
    offset, body = _publish_and_read_first(rabbitmq_broker.url, "harness-stream-check", b"hello")

    assert body == b"hello"
    assert offset == 0


def test_rabbitmq_restart_keeps_the_port_and_the_durable_stream() -> None:
    broker = start_local_rabbitmq()  # its own node: restarting the shared one would disturb other tests
    try:
        url_before = broker.url
        _publish_and_read_first(url_before, "harness-restart-check", b"kept")

        broker.restart()

        assert broker.url == url_before
        offset, body = _publish_and_read_first(broker.url, "harness-restart-check", b"second")
        assert (offset, body) == (0, b"kept")
    finally:
        broker.close()


def test_rabbitmq_behind_a_proxy_loses_its_connections_on_cut_and_accepts_new_ones_after_restore(
    rabbitmq_broker: BrokerHandle,
) -> None:
    proxied = behind_proxy(rabbitmq_broker)
    try:
        connection = _connect(proxied.url)
        try:
            proxied.cut()
            with pytest.raises(pika.exceptions.AMQPConnectionError):
                connection.channel()
        finally:
            if connection.is_open:
                connection.close()
        proxied.restore()

        reconnected = _connect(proxied.url)
        assert reconnected.is_open
        reconnected.close()
    finally:
        proxied.close()
