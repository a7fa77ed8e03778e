"""``RabbitMQBroker``: queues replicated over RabbitMQ streams (``amqp://`` / ``amqps://``).

Per process: two AMQP connections (``AmqpLink``: one publishes, one reads the logs) and, per queue,
one ``ReplicationEngine`` fed by a ``StreamLog``, a ``StreamSnapshotStore`` and a
``SingleActiveConsumerElection``; every handle ``open_queue`` returns is a ``ReplicatedQueue`` on
that engine.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Self

from adapters.rabbitmq.connection import AmqpLink, connection_parameters
from adapters.rabbitmq.leader_election import SingleActiveConsumerElection
from adapters.rabbitmq.settings import SCHEMES, RabbitMQSettings
from adapters.rabbitmq.snapshot_store import StreamSnapshotStore
from adapters.rabbitmq.stream_log import StreamLog
from adapters.rabbitmq.topology import QueueTopology
from application.broker import Broker, BrokerOption, settings_from_options
from application.clock import Clock, system_clock
from application.jobs.job_factory import JobFactory
from application.replication.engine import ReplicationEngine
from application.replication.replicated_queue import ReplicatedQueue
from application.replication.shared_engines import SharedEngines
from domain.queue.naming import validate_queue_name

logger = logging.getLogger(__name__)


class RabbitMQBroker(Broker):
    schemes = SCHEMES

    def __init__(
        self, url: str, settings: RabbitMQSettings | None = None, *, clock: Clock = system_clock
    ) -> None:
        self._settings = settings or RabbitMQSettings()
        connection_parameters(url, self._settings)  # refuse a non-AMQP or malformed URL now
        self._link = AmqpLink(url, self._settings)  # publishing, snapshots, election
        self._reader_link = AmqpLink(url, self._settings)  # log tails
        self.clock = clock
        self._engines = SharedEngines(self._make_engine)

    @classmethod
    def from_url(
        cls, url: str, *, clock: Clock = system_clock, options: Mapping[str, BrokerOption] | None = None
    ) -> Self:
        settings = settings_from_options(RabbitMQSettings, "amqp", options, internal=("replication",))
        return cls(url, settings, clock=clock)

    @property
    def url(self) -> str:
        return self._link.redacted_url

    @property
    def settings(self) -> RabbitMQSettings:
        return self._settings

    @property
    def link(self) -> AmqpLink:
        """The publishing connection (the worker registry uses it too, ADR 0025)."""
        return self._link

    def drop_connections(self) -> None:
        """Close this process's connections as a network cut would; every user reconnects by itself."""
        self._link.drop()
        self._reader_link.drop()

    def _make_engine(self, queue: str) -> ReplicationEngine:
        topology = QueueTopology.of(self._settings.key_prefix, queue)
        replication = dataclasses.replace(
            self._settings.replication, operation_timeout_ms=self._settings.operation_timeout_ms
        )
        return ReplicationEngine(
            queue,
            StreamLog(self._link, topology.log_stream, self._settings, reader_link=self._reader_link),
            StreamSnapshotStore(self._link, topology.snapshot_stream, self._settings),
            SingleActiveConsumerElection(self._link, topology.leader_queue, self._settings),
            broker=self._link.redacted_url,
            settings=replication,
            clock=self.clock,
        )

    async def open_queue(self, factory: JobFactory) -> ReplicatedQueue:
        validate_queue_name(factory.queue)
        queue = await self._engines.open_queue(factory)
        logger.info("rabbitmq queue %s opened on %s", factory.queue, self._link.redacted_url)
        return queue

    async def close(self) -> None:
        await self._engines.close()
        await self._link.close()
        await self._reader_link.close()
