"""``StreamLog``: the replicated queue's event log as one RabbitMQ stream.

- ``append`` publishes every payload to the default exchange (routing key = stream name) on a
  confirm-mode channel, all in flight at once, and returns when the broker has confirmed them all.
- ``tail`` consumes the stream from a numeric ``x-stream-offset``; offsets are the stream's own.
- ``barrier`` appends a marker record and returns its offset + 1. The marker is a valid engine
  record with no events (``{"v":1,"a":"rabbitmq-barrier-<nonce>","b":[]}``), so every replica
  applies it as a no-op and moves its offset past it. Its offset is learnt from this log's running
  tail, or, when no tail runs, from a consumer attached at ``next`` before the marker is published.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence

from adapters.rabbitmq.channel import AmqpChannel, publish_properties
from adapters.rabbitmq.connection import AmqpLink
from adapters.rabbitmq.settings import RabbitMQSettings
from adapters.rabbitmq.stream_subscription import OffsetSpec, StreamSubscription
from adapters.rabbitmq.topology import declare, log_stream_arguments
from application.replication.event_codec import encode_record
from application.replication.log_port import LogRecord, ReplicationLog
from domain.queue.errors import BrokerUnavailableError

logger = logging.getLogger(__name__)

MARKER_APPENDER_PREFIX = "rabbitmq-barrier-"


def barrier_marker(nonce: str) -> bytes:
    return encode_record(MARKER_APPENDER_PREFIX + nonce, [])


MARKER_SIZE = len(barrier_marker(uuid.uuid4().hex))


class ConfirmingPublisher:
    """A confirm-mode channel on ``link`` for one routing key, reopened after it is lost."""

    def __init__(self, link: AmqpLink, routing_key: str, settings: RabbitMQSettings) -> None:
        self._link = link
        self._routing_key = routing_key
        self._settings = settings
        self._channel: AmqpChannel | None = None
        self._lock = asyncio.Lock()

    async def _open(self) -> AmqpChannel:
        channel = self._channel
        if channel is not None and channel.is_open:
            return channel
        async with self._lock:
            channel = self._channel
            if channel is None or not channel.is_open:
                channel = await self._link.channel()
                await channel.enable_confirms(self._settings.operation_timeout_s)
                self._channel = channel
            return channel

    async def publish(
        self, bodies: Sequence[bytes], headers: Sequence[dict[str, object] | None] = ()
    ) -> None:
        """Publish all bodies in order; returns once every one is confirmed."""
        if not bodies:
            return
        channel = await self._open()
        stamp = int(time.time())
        plain = publish_properties(timestamp_s=stamp)
        futures: list[asyncio.Future[None]] = []
        try:
            for index, body in enumerate(bodies):
                props = (
                    plain
                    if index >= len(headers) or headers[index] is None
                    else publish_properties(headers=headers[index], timestamp_s=stamp)
                )
                futures.append(channel.publish(self._routing_key, body, props))
        except BrokerUnavailableError:
            for future in futures:  # the channel died mid-batch: their errors are this one
                if future.done() and not future.cancelled():
                    future.exception()
                else:
                    future.cancel()
            raise
        if len(futures) == 1:
            await futures[0]
            return
        results = await asyncio.gather(*futures, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None


class StreamLog(ReplicationLog):
    """``link`` publishes; ``reader_link`` (default: the same) carries the tails, so heavy delivery
    traffic and RabbitMQ's flow control on publishers do not hold each other back."""

    def __init__(
        self, link: AmqpLink, stream: str, settings: RabbitMQSettings, *, reader_link: AmqpLink | None = None
    ) -> None:
        self._link = link
        self._reader_link = reader_link or link
        self.stream = stream
        self._settings = settings
        self._publisher = ConfirmingPublisher(link, stream, settings)
        self._markers: dict[bytes, asyncio.Future[int]] = {}
        self._tails = 0
        self._resume_floor = 0  # the highest offset a reader of this log asked to start from
        self._subscriptions: set[StreamSubscription] = set()

    async def open(self) -> None:
        channel = await self._link.channel()
        try:
            await declare(
                channel, self.stream, log_stream_arguments(self._settings), self._settings.operation_timeout_s
            )
        finally:
            channel.close()

    async def append(self, payloads: Sequence[bytes]) -> None:
        await self._publisher.publish(payloads)

    async def _subscribe(self, offset: OffsetSpec) -> StreamSubscription:
        channel = await self._reader_link.channel()
        subscription = StreamSubscription(channel, self.stream, self._settings.tail_prefetch)
        try:
            await subscription.start(offset, self._settings.operation_timeout_s)
        except BaseException:
            subscription.close()
            raise
        self._subscriptions.add(subscription)
        return subscription

    def _close_subscription(self, subscription: StreamSubscription) -> None:
        self._subscriptions.discard(subscription)
        subscription.close()

    def tail(self, from_offset: int) -> AsyncIterator[LogRecord]:
        self._resume_floor = max(self._resume_floor, from_offset)
        return self._tail(from_offset)

    async def _tail(self, from_offset: int) -> AsyncIterator[LogRecord]:
        subscription = await self._subscribe(from_offset)
        self._tails += 1
        markers = self._markers
        expected = from_offset
        try:
            while True:
                for message in await subscription.batch():
                    if message.offset < expected:  # attached at a chunk boundary before the offset
                        if markers and len(message.body) == MARKER_SIZE:
                            self._marker_behind(message.body, message.offset, from_offset)
                        continue
                    if message.offset > expected:
                        self._report_gap(expected, message.offset)
                    expected = message.offset + 1
                    body = message.body
                    if markers and len(body) == MARKER_SIZE:
                        future = markers.pop(body, None)
                        if future is not None and not future.done():
                            future.set_result(message.offset)
                    yield LogRecord(message.offset, body, message.timestamp_ms)
        finally:
            self._tails -= 1
            self._close_subscription(subscription)

    def _marker_behind(self, body: bytes, offset: int, from_offset: int) -> None:
        """Our own fresh marker below where this reader started: the log ends before the state this
        process restored (the stream was deleted and re-created under a snapshot). Fail the read."""
        future = self._markers.pop(body, None)
        if future is None or future.done():
            return
        future.set_exception(self._behind_error(offset, from_offset))

    def _behind_error(self, offset: int, from_offset: int) -> BrokerUnavailableError:
        logger.error(
            "%s ends at offset %d, before this process's state (%d): reset the queue",
            self.stream,
            offset,
            from_offset,
        )
        return self._link.unavailable(
            f"{self.stream} ends before the restored state (offset {offset} < {from_offset}): "
            "the stream was deleted or truncated; reset the queue"
        )

    def _report_gap(self, expected: int, got: int) -> None:
        """Stream offsets are contiguous: a jump means retention deleted records this reader still needed
        (the newest snapshot is older than the log's retention). Replicas may now differ: say so loudly."""
        logger.error(
            "log records %d..%d of %s were deleted by retention before this process read them; "
            "raise the log retention or snapshot more often",
            expected,
            got - 1,
            self.stream,
        )

    async def barrier(self) -> int:
        marker = barrier_marker(uuid.uuid4().hex)
        if self._tails == 0:
            return await self._barrier_without_tail(marker)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._markers[marker] = future
        try:
            await self._publisher.publish([marker])
            return await future + 1
        finally:
            self._markers.pop(marker, None)

    async def _barrier_without_tail(self, marker: bytes) -> int:
        subscription = await self._subscribe("next")
        try:
            await self._publisher.publish([marker])
            while True:
                for message in await subscription.batch():
                    if message.body == marker:
                        if message.offset < self._resume_floor:
                            raise self._behind_error(message.offset, self._resume_floor)
                        return message.offset + 1
        finally:
            self._close_subscription(subscription)

    async def close(self) -> None:
        self._publisher.close()
        for subscription in list(self._subscriptions):
            self._close_subscription(subscription)
        for future in self._markers.values():
            if not future.done():
                future.set_exception(BrokerUnavailableError(self._link.redacted_url, "log closed"))
        self._markers.clear()
