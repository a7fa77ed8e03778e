"""Which queues exist on a RabbitMQ broker, without the management plugin.

AMQP cannot list queues, so the adapter keeps its own registry: the stream ``<prefix>.queues``.
Every process appends ``queue <name>`` the first time it opens a queue; ``names()`` reads the
stream from its start up to a barrier it publishes (so every entry appended before the call is
seen) and returns the distinct names. The stream is bounded by size (old entries go, but every
process re-registers its queues when it opens them).
"""

from __future__ import annotations

import contextlib

from adapters.rabbitmq.connection import AmqpLink
from adapters.rabbitmq.settings import RabbitMQSettings
from adapters.rabbitmq.stream_log import StreamLog
from adapters.rabbitmq.topology import declare

ENTRY_PREFIX = b"backbone-queue "
REGISTRY_MAX_BYTES = 64 * 1024 * 1024


def registry_stream(prefix: str) -> str:
    return f"{prefix}.queues"


class QueueRegistry:
    def __init__(self, link: AmqpLink, settings: RabbitMQSettings, *, reader_link: AmqpLink) -> None:
        self._link = link
        self._settings = settings
        self._log = StreamLog(link, registry_stream(settings.key_prefix), settings, reader_link=reader_link)
        self._declared = False
        self._registered: set[str] = set()

    async def _declare(self) -> None:
        if self._declared:
            return
        channel = await self._link.channel()
        try:
            arguments = {"x-queue-type": "stream", "x-max-length-bytes": REGISTRY_MAX_BYTES}
            await declare(channel, self._log.stream, arguments, self._settings.operation_timeout_s)
        finally:
            channel.close()
        self._declared = True

    async def register(self, queue: str) -> None:
        """Record ``queue`` (once per process)."""
        if queue in self._registered:
            return
        await self._declare()
        await self._log.append([ENTRY_PREFIX + queue.encode()])
        self._registered.add(queue)

    async def names(self) -> list[str]:
        await self._declare()
        end = await self._log.barrier()  # the offset after our marker: everything before it is read
        names: set[str] = set()
        records = self._log.tail(0)
        try:
            async for record in records:
                if record.payload.startswith(ENTRY_PREFIX):
                    names.add(record.payload[len(ENTRY_PREFIX) :].decode(errors="replace"))
                if record.offset + 1 >= end:
                    break
        finally:
            with contextlib.suppress(Exception):
                await records.aclose()  # type: ignore[attr-defined]
        return sorted(names)

    async def close(self) -> None:
        await self._log.close()
