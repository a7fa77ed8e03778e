"""``AmqpChannel``: one pika channel whose operations are awaitables.

Every awaited operation fails with ``BrokerUnavailableError`` when the channel (or its connection)
closes first, so no caller waits on a dead channel. Publishing uses publisher confirms: each
``publish`` returns a future resolved by the broker's (possibly multiple) ack, and failed by a nack.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions
from pika.spec import Basic, BasicProperties

from domain.queue.errors import BrokerUnavailableError

logger = logging.getLogger(__name__)

Delivery = Callable[[Any, Basic.Deliver, BasicProperties, bytes], None]


def _close_reason(exc: BaseException | None) -> str:
    if isinstance(exc, pika.exceptions.ChannelClosedByBroker | pika.exceptions.ConnectionClosedByBroker):
        return f"channel closed by broker: {exc.reply_code} {exc.reply_text}"
    if isinstance(exc, pika.exceptions.ChannelClosedByClient):
        return "channel closed"
    return f"channel closed: {type(exc).__name__ if exc else 'connection lost'}"


class AmqpChannel:
    def __init__(self, channel: Any, redacted_url: str) -> None:
        self._channel = channel
        self._broker = redacted_url
        self._waiters: set[asyncio.Future[Any]] = set()
        self._confirms: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        self._published = 0
        self._confirming = False
        self._close_error: BrokerUnavailableError | None = None
        self._close_callbacks: list[Callable[[BrokerUnavailableError], None]] = []
        channel.add_on_close_callback(self._on_closed)
        channel.add_on_return_callback(self._on_returned)

    # --- state ----------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._close_error is None and bool(self._channel.is_open)

    def add_close_callback(self, callback: Callable[[BrokerUnavailableError], None]) -> None:
        if self._close_error is not None:
            callback(self._close_error)
        else:
            self._close_callbacks.append(callback)

    def _on_closed(self, _channel: Any, exc: BaseException) -> None:
        error = BrokerUnavailableError(self._broker, _close_reason(exc))
        self._close_error = error
        waiters, self._waiters = self._waiters, set()
        for future in waiters:
            if not future.done():
                future.set_exception(error)
        confirms, self._confirms = self._confirms, collections.deque()
        for _, future in confirms:
            if not future.done():
                future.set_exception(error)
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            callback(error)

    def _check_open(self) -> None:
        if self._close_error is not None:
            raise self._close_error
        if not self._channel.is_open:
            raise BrokerUnavailableError(self._broker, "channel is not open")

    # --- request / response ---------------------------------------------------------------------

    async def _rpc(self, start: Callable[[Callable[[Any], None]], None], timeout_s: float, what: str) -> Any:
        self._check_open()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.add(future)

        def done(frame: Any) -> None:
            if not future.done():
                future.set_result(frame)

        try:
            start(done)
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise BrokerUnavailableError(self._broker, f"{what} timed out") from None
        except pika.exceptions.AMQPError as exc:
            raise BrokerUnavailableError(self._broker, f"{what} failed: {type(exc).__name__}") from exc
        finally:
            self._waiters.discard(future)

    async def declare_queue(self, name: str, arguments: dict[str, Any], timeout_s: float) -> None:
        await self._rpc(
            lambda cb: self._channel.queue_declare(name, durable=True, arguments=arguments, callback=cb),
            timeout_s,
            f"declaring {name}",
        )

    async def qos(self, prefetch: int, timeout_s: float) -> None:
        await self._rpc(
            lambda cb: self._channel.basic_qos(prefetch_count=prefetch, callback=cb), timeout_s, "basic.qos"
        )

    async def enable_confirms(self, timeout_s: float) -> None:
        await self._rpc(
            lambda cb: self._channel.confirm_delivery(self._on_confirm, callback=cb),
            timeout_s,
            "confirm.select",
        )
        self._confirming = True

    async def consume(
        self, queue: str, on_message: Delivery, arguments: dict[str, Any], timeout_s: float
    ) -> str:
        tag: list[str] = []
        await self._rpc(
            lambda cb: tag.append(
                self._channel.basic_consume(queue, on_message, arguments=arguments, callback=cb)
            ),
            timeout_s,
            f"consuming {queue}",
        )
        return tag[0]

    # --- fire and forget ------------------------------------------------------------------------

    def publish(
        self, routing_key: str, body: bytes, properties: BasicProperties | None = None
    ) -> asyncio.Future[None]:
        """Publish to the default exchange; the future resolves when the broker confirms it."""
        self._check_open()
        if not self._confirming:
            raise RuntimeError("enable_confirms() first")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            self._channel.basic_publish("", routing_key, body, properties, mandatory=True)
        except pika.exceptions.AMQPError as exc:
            raise BrokerUnavailableError(self._broker, f"publish failed: {type(exc).__name__}") from exc
        self._published += 1
        self._confirms.append((self._published, future))
        return future

    def publish_unconfirmed(
        self, routing_key: str, body: bytes, properties: BasicProperties | None = None
    ) -> None:
        self._check_open()
        try:
            self._channel.basic_publish("", routing_key, body, properties)
        except pika.exceptions.AMQPError as exc:
            raise BrokerUnavailableError(self._broker, f"publish failed: {type(exc).__name__}") from exc

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag: int = method.delivery_tag
        nacked = isinstance(method, Basic.Nack)
        confirms = self._confirms
        if method.multiple:
            while confirms and confirms[0][0] <= tag:
                self._settle(confirms.popleft()[1], nacked)
            return
        if confirms and confirms[0][0] == tag:
            self._settle(confirms.popleft()[1], nacked)
            return
        for index, (pending, future) in enumerate(confirms):
            if pending == tag:
                del confirms[index]
                self._settle(future, nacked)
                return

    def _on_returned(self, _channel: Any, method: Basic.Return, _properties: Any, _body: bytes) -> None:
        """A mandatory publish that reached no queue (the stream was deleted): RabbitMQ would still
        confirm it, so fail every pending confirm instead; the caller must not believe it stored."""
        error = BrokerUnavailableError(
            self._broker,
            f"{method.routing_key} does not exist (deleted?): {method.reply_code} {method.reply_text}",
        )
        confirms, self._confirms = self._confirms, collections.deque()
        for _, future in confirms:
            if not future.done():
                future.set_exception(error)

    def _settle(self, future: asyncio.Future[None], nacked: bool) -> None:
        if future.done():
            return
        if nacked:
            future.set_exception(
                BrokerUnavailableError(self._broker, "the broker refused (nacked) a message")
            )
        else:
            future.set_result(None)

    def ack(self, delivery_tag: int, *, multiple: bool) -> None:
        if self.is_open:
            self._channel.basic_ack(delivery_tag, multiple=multiple)

    def close(self) -> None:
        if self._channel.is_open:
            try:
                self._channel.close()
            except pika.exceptions.AMQPError:
                logger.debug("channel already closing")


def publish_properties(
    headers: dict[str, Any] | None = None, timestamp_s: int | None = None
) -> BasicProperties:
    return pika.BasicProperties(delivery_mode=2, headers=headers, timestamp=timestamp_s)
