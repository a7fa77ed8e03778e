"""``KafkaAuditStore``: the audit log as one Kafka topic, ``<key_prefix>.audit`` (ADR 0024).

One partition, ``cleanup.policy=delete`` and ``retention.ms`` = the retention (where the broker
honours it), created on first use. ``append`` produces the entry as JSON with acks=all and returns
once it is acknowledged; ``read`` reads the partition from its first retained offset to its end
offset and never returns an entry older than the retention.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka import TopicPartition
from aiokafka.admin import NewTopic

from adapters.kafka.connection import KafkaConnection, stop_quietly
from adapters.kafka.settings import KafkaSettings
from application.audit import (
    DEFAULT_RETENTION_MS,
    AuditEntry,
    AuditQuery,
    AuditStore,
    AuditWriteError,
    select,
)
from application.broker import BrokerOption, settings_from_options
from application.clock import Clock, system_clock
from domain.queue.errors import BrokerUnavailableError


class KafkaAuditStore(AuditStore):
    def __init__(
        self,
        settings: KafkaSettings,
        *,
        retention_ms: int = DEFAULT_RETENTION_MS,
        clock: Clock = system_clock,
    ) -> None:
        self.retention_ms = retention_ms
        self.clock = clock
        self.topic = f"{settings.key_prefix}.audit"
        self._partition = TopicPartition(self.topic, 0)
        self._connection = KafkaConnection(settings)

    @classmethod
    def from_url(
        cls,
        url: str,
        options: Mapping[str, BrokerOption] | None = None,
        *,
        retention_ms: int = DEFAULT_RETENTION_MS,
        clock: Clock = system_clock,
    ) -> KafkaAuditStore:
        settings = settings_from_options(KafkaSettings, "kafka", options, internal=("replication",), url=url)
        return cls(settings, retention_ms=retention_ms, clock=clock)

    def _definition(self) -> NewTopic:
        configs = {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms)}
        settings = self._connection.settings
        if settings.min_insync_replicas is not None:
            configs["min.insync.replicas"] = str(settings.min_insync_replicas)
        return NewTopic(self.topic, 1, settings.replication_factor, topic_configs=configs)

    async def _open(self) -> None:
        await self._connection.start()
        await self._connection.ensure_topics([self._definition()])

    async def append(self, entry: AuditEntry) -> None:
        try:
            await self._open()
            await self._connection.append(self.topic, [entry.to_json().encode()])
        except BrokerUnavailableError as exc:
            raise AuditWriteError(f"kafka {self.topic}: {exc}") from exc

    async def read(self, query: AuditQuery) -> list[AuditEntry]:
        await self._open()
        connection = self._connection
        end = await connection.end_offset(self.topic)
        reader = connection.new_consumer(fetch_min_bytes=1)
        entries: list[AuditEntry] = []
        try:
            await connection.guard(reader.start(), "starting the audit reader")
            reader.assign([self._partition])
            first = await connection.guard(reader.beginning_offsets([self._partition]), "audit start offset")
            position = int(first[self._partition])
            reader.seek(self._partition, position)
            while position < end:
                wait_ms = max(1, connection.settings.operation_timeout_ms // 2)
                batches = await connection.guard(
                    reader.getmany(self._partition, timeout_ms=wait_ms), "reading the audit log"
                )
                messages = batches.get(self._partition, ())
                if not messages:
                    raise BrokerUnavailableError(
                        connection.broker, f"{self.topic}: nothing read below its end offset {end}"
                    )
                for message in messages:
                    position = message.offset + 1
                    if message.offset < end and message.value:
                        entries.append(AuditEntry.from_json(message.value))
        finally:
            await stop_quietly(reader)
        return select(entries, query, self.oldest_kept_ms())

    async def close(self) -> None:
        await self._connection.close()
