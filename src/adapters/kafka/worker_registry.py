"""``KafkaWorkerRegistry``: heartbeats on the 1-partition topic ``<prefix>.workers`` (ADR 0025).

Each heartbeat is a record keyed by the worker id; a worker that stops cleanly writes a record
with no value (a leave). The topic keeps records for ``RETENTION_MS`` (cleanup.policy=delete).
Listing reads back from the end offset a window of records, widened until its first record is
older than ``LIST_WINDOW_MS`` (longer than any heartbeat's TTL) or the start of the topic is reached.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import NewTopic

from adapters.kafka.broker import KafkaBroker
from adapters.kafka.connection import KafkaConnection, stop_quietly
from application.presence.registry import WorkerHeartbeat, WorkerRegistry, latest_live

RETENTION_MS = 60 * 60 * 1000
LIST_WINDOW_MS = 5 * 60 * 1000
FIRST_WINDOW = 512


class KafkaWorkerRegistry(WorkerRegistry):
    def __init__(self, broker: KafkaBroker) -> None:
        self._connection: KafkaConnection = broker.connection
        self._clock = broker.clock
        self.topic = f"{broker.settings.key_prefix}.workers"
        self._partition = TopicPartition(self.topic, 0)

    async def _ready(self) -> None:
        connection = self._connection
        await connection.start()
        configs = {"cleanup.policy": "delete", "retention.ms": str(RETENTION_MS)}
        if connection.settings.min_insync_replicas is not None:
            configs["min.insync.replicas"] = str(connection.settings.min_insync_replicas)
        topic = NewTopic(self.topic, 1, connection.settings.replication_factor, topic_configs=configs)
        await connection.ensure_topics([topic])

    async def publish(self, beat: WorkerHeartbeat) -> None:
        await self._ready()
        await self._connection.send(self.topic, beat.worker_id.encode(), beat.to_json())

    async def remove(self, worker_id: str) -> None:
        await self._ready()
        await self._connection.send(self.topic, worker_id.encode(), None)

    async def live(self) -> list[WorkerHeartbeat]:
        await self._ready()
        connection = self._connection
        end = await connection.end_offset(self.topic)
        horizon = self._clock() - LIST_WINDOW_MS
        window = FIRST_WINDOW
        while True:
            start = max(0, end - window)
            records, oldest = await self._read(start, end)
            if start == 0 or (oldest is not None and oldest < horizon):
                return latest_live(records, self._clock())
            window *= 4

    async def _read(self, start: int, end: int) -> tuple[list[WorkerHeartbeat | str], int | None]:
        """Records in ``[start, end)`` and the timestamp of the first one read."""
        connection = self._connection
        records: list[WorkerHeartbeat | str] = []
        if start >= end:
            return records, None
        consumer = connection.new_consumer(auto_offset_reset="earliest")
        try:
            await connection.guard(consumer.start(), "starting the workers topic reader")
            consumer.assign([self._partition])
            consumer.seek(self._partition, start)
            oldest = await connection.guard(self._drain(consumer, end, records), "reading worker heartbeats")
        finally:
            await stop_quietly(consumer)
        return records, oldest

    async def _drain(
        self, consumer: AIOKafkaConsumer, end: int, records: list[WorkerHeartbeat | str]
    ) -> int | None:
        """Read up to ``end`` into ``records``; the timestamp of the first record read."""
        oldest: int | None = None
        position = -1
        while position + 1 < end:
            batches = await consumer.getmany(self._partition, timeout_ms=500)
            for message in batches.get(self._partition, ()):
                position = message.offset
                if message.offset >= end:
                    break
                if oldest is None:
                    oldest = message.timestamp
                if message.value is None:
                    if message.key is not None:
                        records.append(message.key.decode(errors="replace"))
                else:
                    beat = WorkerHeartbeat.from_json(message.value)
                    if beat is not None:
                        records.append(beat)
        return oldest
