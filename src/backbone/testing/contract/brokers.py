"""``broker_under_test(url)``: everything the contract needs from a broker, derived from its URL.

A URL alone gives queue handles; the contract also needs what only that broker's own client can
do, so each network scheme brings it here:

- raw records are written with the broker's own client (redis-py, pika, aiokafka) where the
  adapter keeps jobs, under the default key prefix;
- a second worker is a real OS process (``python -m backbone.testing.contract.worker_process``)
  given the URL;
- an unreachable broker is a free loopback port in a URL with the password ``CONTRACT_SECRET``;
- an outage is a loopback proxy (``OutageProxy``) in front of the broker: every connection of the
  suite goes through it, and the outage cuts them all for a moment. The project's own tests pass
  ``interrupt=`` instead (a real restart of a broker they own).

``memory://`` runs every behaviour in this process (``MemoryBrokerUnderTest``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from application.broker import DEFAULT_KEY_PREFIX, Broker
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.queue_backend import QueueBackend
from application.redaction import redact_url
from backbone.testing.contract.helpers import ECHO, contract_job_types, fast_defaults
from backbone.testing.contract.memory_broker import MemoryBrokerUnderTest
from backbone.testing.contract.outage import LOOPBACK, OutageProxy, free_port
from backbone.testing.contract.poison_behaviours import log_add_record
from backbone.testing.contract.process_worker import ProcessBrokerUnderTest
from backbone.testing.contract.support import CONTRACT_SECRET, BrokerUnderTest
from bootstrap.brokers import broker_scheme, create_broker
from bootstrap.settings import BrokerSettings
from domain.queue.options import JobOptions, QueueDefaults

Interrupt = Callable[[], Awaitable[None]]

FAMILIES = {
    "memory": "memory",
    "redis": "redis",
    "rediss": "redis",
    "amqp": "rabbitmq",
    "amqps": "rabbitmq",
    "kafka": "kafka",
}
# Handles of the suite: a RabbitMQ or Kafka operation may wait on a whole log round trip.
CONNECT_TIMEOUT_MS = 3_000
OPERATION_TIMEOUT_MS = {"redis": None, "rabbitmq": 5_000, "kafka": 5_000}
REDIS_PRIORITY_SHIFT = 2**40  # the wait set's score: priority * 2**40 + sequence (ADR 0009)


def broker_under_test(url: str, *, interrupt: Interrupt | None = None) -> BrokerUnderTest:
    """The broker at ``url`` as the contract suite drives it.

    ``interrupt`` replaces the outage proxy (for a broker the caller can restart itself)."""
    family = FAMILIES.get(broker_scheme(url))
    if family is None:
        known = ", ".join(f"{scheme}://" for scheme in FAMILIES)
        raise ValueError(f"the contract knows no broker for {redact_url(url)} (known: {known})")
    if family == "memory":
        return MemoryBrokerUnderTest()
    return UrlBrokerUnderTest(url, family, interrupt=interrupt)


class UrlBrokerUnderTest(ProcessBrokerUnderTest):
    """A network broker given by URL: handles and worker processes built the way the CLI builds them."""

    def __init__(self, url: str, family: str, *, interrupt: Interrupt | None = None) -> None:
        super().__init__()
        self.url = url
        self.name = family
        self._interrupt = interrupt
        self._proxy = None if interrupt is not None else OutageProxy.in_front_of(url)
        self._connect_url = url if self._proxy is None else self._proxy.proxied(url)
        self._brokers: list[Broker] = []

    def _broker(self, url: str, *, connect_timeout_ms: int, operation_timeout_ms: int | None) -> Broker:
        settings = BrokerSettings(url=url, connect_timeout_ms=connect_timeout_ms)
        if operation_timeout_ms is not None:
            settings = settings.model_copy(update={"operation_timeout_ms": operation_timeout_ms})
        broker = create_broker(settings)
        self._brokers.append(broker)
        return broker

    async def open_queue(
        self, queue: str, job_types: JobTypes, defaults: QueueDefaults, *, max_payload_bytes: int = 512 * 1024
    ) -> QueueBackend:
        broker = self._broker(
            self._connect_url,
            connect_timeout_ms=CONNECT_TIMEOUT_MS,
            operation_timeout_ms=OPERATION_TIMEOUT_MS[self.name],
        )
        return await broker.open_queue(
            JobFactory(queue, job_types, defaults, max_payload_bytes=max_payload_bytes)
        )

    async def open_unreachable_queue(self, queue: str, job_types: JobTypes, timeout_ms: int) -> QueueBackend:
        address = f"{LOOPBACK}:{free_port()}"
        url = {
            "redis": f"redis://backbone:{CONTRACT_SECRET}@{address}/0",
            "rabbitmq": f"amqp://contract:{CONTRACT_SECRET}@{address}/%2F",
            "kafka": f"kafka://backbone:{CONTRACT_SECRET}@{address}",
        }[self.name]
        broker = self._broker(url, connect_timeout_ms=timeout_ms, operation_timeout_ms=timeout_ms)
        return await broker.open_queue(JobFactory(queue, job_types))

    async def write_raw_record(self, queue: str, raw: bytes) -> None:
        writers = {"redis": _write_redis, "rabbitmq": _write_rabbitmq, "kafka": _write_kafka}
        await writers[self.name](self.url, queue, raw)

    async def write_raw_job(self, queue: str, job_id: str, name: str, data: bytes) -> None:
        if self.name == "redis":
            await self._write_redis_job(queue, job_id, name, data)
        else:  # the log adapters: an add record on the queue's log
            await self.write_raw_record(queue, log_add_record(queue, job_id, name, data))

    async def _write_redis_job(self, queue: str, job_id: str, name: str, data: bytes) -> None:
        """A job added as usual, then its stored name and data overwritten by a raw redis-py client."""
        import redis.asyncio as aioredis

        from adapters.redis.keys import QueueKeys

        handle = await self.open_queue(queue, contract_job_types(), fast_defaults())
        try:
            await handle.add(ECHO, None, JobOptions(job_id=job_id))
        finally:
            await handle.close()
        client = aioredis.Redis.from_url(self.url)
        try:
            await client.hset(QueueKeys(DEFAULT_KEY_PREFIX, queue).job(job_id), mapping={"name": name, "data": data})
        finally:
            await client.aclose()

    @property
    def worker_url(self) -> str:
        return self._connect_url

    async def interrupt_and_restore(self) -> None:
        if self._interrupt is not None:
            await self._interrupt()
        elif self._proxy is not None:
            await self._proxy.interrupt()

    async def close(self) -> None:
        await self.end_process_workers(graceful=self.name == "rabbitmq")
        for broker in self._brokers:
            await broker.close()
        if self._proxy is not None:
            self._proxy.close()


async def _write_redis(url: str, queue: str, raw: bytes) -> None:
    """A plain redis-py client stores ``raw`` as a job record and queues it, bypassing the scripts."""
    import redis.asyncio as aioredis

    from adapters.redis.keys import QueueKeys

    keys = QueueKeys(DEFAULT_KEY_PREFIX, queue)
    job_id = f"raw-{uuid.uuid4().hex[:8]}"
    client = aioredis.Redis.from_url(url)
    try:
        await client.set(keys.job(job_id), raw)
        await client.zadd(keys.wait, {job_id: 5 * REDIS_PRIORITY_SHIFT})
        await client.zadd(keys.marker, {"w": 0})
    finally:
        await client.aclose()


async def _write_rabbitmq(url: str, queue: str, raw: bytes) -> None:
    """A plain pika connection publishes ``raw`` on the queue's log stream."""
    from adapters.rabbitmq.topology import QueueTopology

    stream = QueueTopology.of(DEFAULT_KEY_PREFIX, queue).log_stream
    await asyncio.to_thread(_publish_with_pika, url, stream, raw)


def _publish_with_pika(url: str, routing_key: str, body: bytes) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("", routing_key, body)
    finally:
        connection.close()


async def _write_kafka(url: str, queue: str, raw: bytes) -> None:
    """A plain aiokafka producer appends ``raw`` to the queue's log topic."""
    from aiokafka import AIOKafkaProducer

    from adapters.kafka import KafkaSettings
    from adapters.kafka.topics import QueueTopics

    servers = KafkaSettings(url=url).bootstrap_servers
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        await producer.send_and_wait(QueueTopics.of(DEFAULT_KEY_PREFIX, queue).log, raw, partition=0)
    finally:
        await producer.stop()
