"""``KafkaBroker``: ``kafka://`` queues as the replicated state machine over Kafka topics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Self

from adapters.kafka.connection import KafkaConnection
from adapters.kafka.leader import KafkaLeaderElection
from adapters.kafka.log import KafkaLog
from adapters.kafka.settings import SCHEMES, KafkaSettings
from adapters.kafka.snapshots import KafkaSnapshotStore
from adapters.kafka.topics import QueueTopics
from application.broker import Broker, BrokerOption, settings_from_options
from application.clock import Clock, system_clock
from application.jobs.job_factory import JobFactory
from application.replication.engine import ReplicationEngine
from application.replication.replicated_queue import ReplicatedQueue
from application.replication.shared_engines import SharedEngines
from domain.queue.naming import validate_queue_name


class KafkaBroker(Broker):
    """One connection configuration; queues opened through it share clients and, per queue, a replica."""

    schemes = SCHEMES

    def __init__(self, settings: KafkaSettings | str, *, clock: Clock = system_clock) -> None:
        self.settings = settings if isinstance(settings, KafkaSettings) else KafkaSettings(url=settings)
        self.clock = clock
        self._connection = KafkaConnection(self.settings)
        self._engines = SharedEngines(self._make_engine)

    @classmethod
    def from_url(
        cls, url: str, *, clock: Clock = system_clock, options: Mapping[str, BrokerOption] | None = None
    ) -> Self:
        settings = settings_from_options(KafkaSettings, "kafka", options, internal=("replication",), url=url)
        return cls(settings, clock=clock)

    @property
    def url(self) -> str:
        return self.settings.redacted_url

    @property
    def connection(self) -> KafkaConnection:
        """The shared clients (the worker registry writes through them too, ADR 0025)."""
        return self._connection

    async def open_queue(self, factory: JobFactory) -> ReplicatedQueue:
        validate_queue_name(factory.queue)  # as every broker does: the name becomes topic names
        return await self._engines.open_queue(factory)

    async def close(self) -> None:
        await self._engines.close()
        await self._connection.close()

    def _make_engine(self, queue: str) -> ReplicationEngine:
        settings = self.settings
        topics = QueueTopics.of(settings.key_prefix, queue)
        return ReplicationEngine(
            queue,
            KafkaLog(self._connection, topics),
            KafkaSnapshotStore(self._connection, topics.snapshots, settings.snapshot_chunk_bytes),
            KafkaLeaderElection(self._connection, topics),
            broker=settings.redacted_url,
            settings=replace(settings.replication, operation_timeout_ms=settings.operation_timeout_ms),
            clock=self.clock,
        )
