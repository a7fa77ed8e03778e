"""``SingleActiveConsumerElection``: the maintenance leader is the active consumer of one queue.

Every process consumes the durable classic queue ``<prefix>.<queue>.leader`` declared with
``x-single-active-consumer``: RabbitMQ delivers to one consumer at a time and moves to the next when
that consumer's channel or connection goes away. AMQP 0.9.1 has no "you are active" notification
(RabbitMQ 3.10), so every process publishes a small ping every ``leader_ping_ms``; only the active
consumer receives pings, and it is leader while pings keep arriving (for ``leader_lease_pings``
intervals after the last one). Pings expire in the queue (message TTL) so none pile up. A brief
overlap of two leaders after a failover is harmless: the engine's ticks and snapshots are idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from pika.spec import Basic, BasicProperties

from adapters.rabbitmq.channel import AmqpChannel
from adapters.rabbitmq.connection import AmqpLink
from adapters.rabbitmq.settings import RabbitMQSettings
from adapters.rabbitmq.topology import declare, leader_queue_arguments
from application.replication.log_port import LeaderElection
from domain.queue.errors import BrokerUnavailableError

logger = logging.getLogger(__name__)


class SingleActiveConsumerElection(LeaderElection):
    def __init__(self, link: AmqpLink, queue_name: str, settings: RabbitMQSettings) -> None:
        self._link = link
        self.queue_name = queue_name
        self._settings = settings
        self._channel: AmqpChannel | None = None
        self._leader_until = 0.0
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()

    @property
    def _lease_s(self) -> float:
        return self._settings.leader_ping_ms * self._settings.leader_lease_pings / 1000

    def is_leader(self) -> bool:
        return time.monotonic() < self._leader_until

    async def start(self) -> None:
        await self._join()
        self._task = asyncio.create_task(self._run(), name=f"leader-election-{self.queue_name}")

    async def _join(self) -> None:
        channel = await self._link.channel()
        try:
            timeout_s = self._settings.operation_timeout_s
            await declare(channel, self.queue_name, leader_queue_arguments(self._settings), timeout_s)
            await channel.qos(10, timeout_s)
            await channel.consume(self.queue_name, self._on_ping, {}, timeout_s)
        except BaseException:
            channel.close()
            raise
        self._lost.clear()
        channel.add_close_callback(lambda _error: self._on_channel_lost())
        self._channel = channel
        channel.publish_unconfirmed(self.queue_name, b"ping")

    def _on_ping(
        self, channel: Any, method: Basic.Deliver, _properties: BasicProperties, _body: bytes
    ) -> None:
        if not self.is_leader():
            logger.info("became maintenance leader queue=%s", self.queue_name)
        self._leader_until = time.monotonic() + self._lease_s
        channel.basic_ack(method.delivery_tag)

    def _on_channel_lost(self) -> None:
        self._leader_until = 0.0
        self._lost.set()

    async def _run(self) -> None:
        interval = self._settings.leader_ping_ms / 1000
        while True:
            channel = self._channel
            if channel is None or not channel.is_open:
                self._leader_until = 0.0
                try:
                    await self._join()
                except BrokerUnavailableError as exc:
                    logger.warning("leader election cannot rejoin queue=%s: %s", self.queue_name, exc.reason)
                    await asyncio.sleep(interval * 4)
                    continue
                channel = self._channel
            try:
                if channel is not None:
                    channel.publish_unconfirmed(self.queue_name, b"ping")
            except BrokerUnavailableError:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), interval)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._leader_until = 0.0
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()
