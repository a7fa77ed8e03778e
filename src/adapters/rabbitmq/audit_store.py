"""``RabbitMQAuditStore``: the audit log as one RabbitMQ stream, ``<key_prefix>.audit`` (ADR 0024).

Each entry is one message (the entry as JSON), published with confirms: ``append`` returns once
the broker has it. Retention is the stream's ``x-max-age`` (the retention in seconds; RabbitMQ
deletes whole segments past it) and ``read`` never returns an entry older than the retention.
``read`` consumes the stream from its first retained message up to an empty probe message it
publishes after attaching (the end of the log at that moment); probes are skipped when reading.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from adapters.rabbitmq.connection import AmqpLink, connection_parameters
from adapters.rabbitmq.settings import RabbitMQSettings
from adapters.rabbitmq.stream_log import ConfirmingPublisher
from adapters.rabbitmq.stream_subscription import StreamSubscription
from adapters.rabbitmq.topology import declare
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

H_PROBE = "x-backbone-audit-probe"
READ_PREFETCH = 500


def audit_stream_arguments(retention_ms: int) -> dict[str, object]:
    return {"x-queue-type": "stream", "x-max-age": f"{max(1, retention_ms // 1000)}s"}


class RabbitMQAuditStore(AuditStore):
    def __init__(
        self,
        url: str,
        settings: RabbitMQSettings | None = None,
        *,
        retention_ms: int = DEFAULT_RETENTION_MS,
        clock: Clock = system_clock,
    ) -> None:
        self._settings = settings or RabbitMQSettings()
        connection_parameters(url, self._settings)  # refuse a malformed URL now
        self.retention_ms = retention_ms
        self.clock = clock
        self.stream = f"{self._settings.key_prefix}.audit"
        self._link = AmqpLink(url, self._settings)
        self._publisher = ConfirmingPublisher(self._link, self.stream, self._settings)
        self._declared = False

    @classmethod
    def from_url(
        cls,
        url: str,
        options: Mapping[str, BrokerOption] | None = None,
        *,
        retention_ms: int = DEFAULT_RETENTION_MS,
        clock: Clock = system_clock,
    ) -> RabbitMQAuditStore:
        settings = settings_from_options(RabbitMQSettings, "amqp", options, internal=("replication",))
        return cls(url, settings, retention_ms=retention_ms, clock=clock)

    async def _declare(self) -> None:
        if self._declared:
            return
        channel = await self._link.channel()
        try:
            await declare(
                channel,
                self.stream,
                audit_stream_arguments(self.retention_ms),
                self._settings.operation_timeout_s,
            )
        finally:
            channel.close()
        self._declared = True

    async def append(self, entry: AuditEntry) -> None:
        try:
            await self._declare()
            await self._publisher.publish([entry.to_json().encode()])
        except BrokerUnavailableError as exc:
            raise AuditWriteError(f"rabbitmq {self.stream}: {exc}") from exc

    async def read(self, query: AuditQuery) -> list[AuditEntry]:
        await self._declare()
        channel = await self._link.channel()
        subscription = StreamSubscription(channel, self.stream, READ_PREFETCH)
        entries: list[AuditEntry] = []
        try:
            await subscription.start("first", self._settings.operation_timeout_s)
            probe = uuid.uuid4().hex
            await self._publisher.publish([b""], [{H_PROBE: probe}])
            while True:
                batch = await subscription.batch(self._settings.operation_timeout_s)
                if not batch:
                    raise self._link.unavailable(
                        f"no delivery from {self.stream} within {self._settings.operation_timeout_ms} ms"
                    )
                for message in batch:
                    if message.headers.get(H_PROBE) is not None:
                        marker = message.headers[H_PROBE]
                        if (marker.decode() if isinstance(marker, bytes) else marker) == probe:
                            return select(entries, query, self.oldest_kept_ms())
                        continue
                    if message.body:
                        entries.append(AuditEntry.from_json(message.body))
        finally:
            subscription.close()

    async def close(self) -> None:
        self._publisher.close()
        await self._link.close()
