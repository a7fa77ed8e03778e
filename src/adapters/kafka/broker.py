"""``KafkaBroker``: ``kafka://`` queues as the replicated state machine over Kafka topics."""

from __future__ import annotations

from dataclasses import replace

from adapters.kafka.connection import KafkaConnection
from adapters.kafka.leader import KafkaLeaderElection
from adapters.kafka.log import KafkaLog
from adapters.kafka.settings import KafkaSettings
from adapters.kafka.snapshots import KafkaSnapshotStore
from adapters.kafka.topics import QueueTopics
from application.broker import Broker
from application.jobs.job_factory import JobFactory
from application.replication.engine import ReplicationEngine
from application.replication.replicated_queue import ReplicatedQueue
from application.replication.settings import Clock, wall_clock_ms
from application.replication.shared_engines import SharedEngines
from domain.queue.naming import validate_queue_name


class KafkaBroker(Broker):
    """One connection configuration; queues opened through it share clients and, per queue, a replica."""

    def __init__(self, settings: KafkaSettings | str, *, clock: Clock = wall_clock_ms) -> None:
        self.settings = settings if isinstance(settings, KafkaSettings) else KafkaSettings(url=settings)
        self._clock = clock
        self._connection = KafkaConnection(self.settings)
        self._engines = SharedEngines(self._make_engine)

    @property
    def url(self) -> str:
        return self.settings.redacted_url

    async def open_queue(self, factory: JobFactory) -> ReplicatedQueue:
        validate_queue_name(factory.queue)  # as every broker does: the name becomes topic names
        return await self._engines.open_queue(factory)

    async def close(self) -> None:
        await self._engines.close()
        await self._connection.close()

    def _make_engine(self, queue: str) -> ReplicationEngine:
        settings = self.settings
        topics = QueueTopics.of(settings.prefix, queue)
        return ReplicationEngine(
            queue,
            KafkaLog(self._connection, topics),
            KafkaSnapshotStore(self._connection, topics.snapshots, settings.snapshot_chunk_bytes),
            KafkaLeaderElection(self._connection, topics),
            broker=settings.redacted_url,
            settings=replace(settings.replication, operation_timeout_ms=settings.operation_timeout_ms),
            clock=self._clock,
        )
