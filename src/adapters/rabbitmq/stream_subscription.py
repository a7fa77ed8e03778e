"""``StreamSubscription``: one AMQP consumer on a RabbitMQ stream, read in batches.

Stream consumers need a prefetch and manual acks: the ack is the credit that lets the broker send
more. Deliveries carry their stream offset in the numeric ``x-stream-offset`` header (checked on
RabbitMQ 3.10). Deliveries are buffered and handed out in batches; each batch is acked with one
``multiple`` ack when it is taken, so a slow reader holds back the broker instead of filling memory.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pika.spec import Basic, BasicProperties

from adapters.rabbitmq.channel import AmqpChannel
from domain.queue.errors import BrokerUnavailableError

OffsetSpec = int | str | datetime  # numeric offset, "first" / "last" / "next", or a timestamp


@dataclass(frozen=True, slots=True)
class StreamMessage:
    offset: int
    body: bytes
    headers: dict[str, Any]
    timestamp_ms: int


class StreamSubscription:
    def __init__(self, channel: AmqpChannel, stream: str, prefetch: int) -> None:
        self._channel = channel
        self._stream = stream
        self._prefetch = prefetch
        self._buffer: collections.deque[StreamMessage] = collections.deque()
        self._last_tag = 0
        self._acked_tag = 0
        self._arrived = asyncio.Event()
        self._error: BrokerUnavailableError | None = None
        channel.add_close_callback(self._on_closed)

    async def start(self, offset: OffsetSpec, timeout_s: float) -> None:
        await self._channel.qos(self._prefetch, timeout_s)
        await self._channel.consume(self._stream, self._on_message, {"x-stream-offset": offset}, timeout_s)

    def _on_closed(self, error: BrokerUnavailableError) -> None:
        self._error = error
        self._arrived.set()

    def _on_message(
        self, _channel: Any, method: Basic.Deliver, properties: BasicProperties, body: bytes
    ) -> None:
        headers = properties.headers or {}
        offset = headers.get("x-stream-offset")
        self._last_tag = method.delivery_tag
        if not isinstance(offset, int):  # not a stream delivery: nothing sensible to do but skip it
            return
        stamp = properties.timestamp
        timestamp_ms = stamp * 1000 if isinstance(stamp, int) else time.time_ns() // 1_000_000
        self._buffer.append(StreamMessage(int(offset), body, headers, timestamp_ms))
        self._arrived.set()

    async def batch(self, timeout_s: float | None = None) -> list[StreamMessage]:
        """Every buffered message (waiting up to ``timeout_s`` for one; [] on timeout)."""
        while not self._buffer:
            if self._error is not None:
                raise self._error
            self._arrived.clear()
            if timeout_s is None:
                await self._arrived.wait()
            else:
                try:
                    await asyncio.wait_for(self._arrived.wait(), timeout_s)
                except TimeoutError:
                    return []
        messages = list(self._buffer)
        self._buffer.clear()
        if self._last_tag > self._acked_tag:
            self._channel.ack(self._last_tag, multiple=True)
            self._acked_tag = self._last_tag
        return messages

    def close(self) -> None:
        self._channel.close()
