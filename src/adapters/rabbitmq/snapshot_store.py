"""``StreamSnapshotStore``: replica snapshots in a second stream, ``<prefix>.<queue>.snapshots``.

A snapshot is split into chunks of at most ``snapshot_chunk_bytes``; each chunk message carries the
headers ``jq-snapshot`` (id), ``jq-chunk`` (index), ``jq-chunks`` (count) and ``jq-next-offset``.

Loading finds the end of the stream exactly: attach a consumer at ``next``, publish a small probe
message, read until the probe arrives (its offset is the end). Then read back a window before the
end, widening it until a complete snapshot is inside (or the start of the stream is reached), and
return the complete snapshot that ended last. Chunks from an interrupted save are never complete,
so they are ignored; anything a raw client wrote there without our headers is ignored too.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from adapters.rabbitmq.connection import AmqpLink
from adapters.rabbitmq.settings import RabbitMQSettings
from adapters.rabbitmq.stream_log import ConfirmingPublisher
from adapters.rabbitmq.stream_subscription import OffsetSpec, StreamMessage, StreamSubscription
from adapters.rabbitmq.topology import declare, snapshot_stream_arguments
from application.replication.log_port import SnapshotStore

logger = logging.getLogger(__name__)

H_ID, H_CHUNK, H_CHUNKS, H_NEXT, H_PROBE = (
    "jq-snapshot",
    "jq-chunk",
    "jq-chunks",
    "jq-next-offset",
    "jq-probe",
)
FIRST_WINDOW = 64


@dataclass(slots=True)
class _Assembly:
    chunks: int
    next_offset: int
    parts: dict[int, bytes] = field(default_factory=dict)
    last_offset: int = -1

    @property
    def complete(self) -> bool:
        return len(self.parts) == self.chunks

    def state(self) -> bytes:
        return b"".join(self.parts[index] for index in range(self.chunks))


def _int_header(message: StreamMessage, name: str) -> int | None:
    value = message.headers.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class StreamSnapshotStore(SnapshotStore):
    def __init__(self, link: AmqpLink, stream: str, settings: RabbitMQSettings) -> None:
        self._link = link
        self.stream = stream
        self._settings = settings
        self._publisher = ConfirmingPublisher(link, stream, settings)
        self._declared = False

    async def _declare(self) -> None:
        if self._declared:
            return
        channel = await self._link.channel()
        try:
            await declare(
                channel,
                self.stream,
                snapshot_stream_arguments(self._settings),
                self._settings.operation_timeout_s,
            )
        finally:
            channel.close()
        self._declared = True

    async def save(self, next_offset: int, state: bytes) -> None:
        await self._declare()
        size = max(1, self._settings.snapshot_chunk_bytes)
        parts = [state[start : start + size] for start in range(0, len(state), size)] or [b""]
        snapshot_id = uuid.uuid4().hex
        headers: list[dict[str, object] | None] = [
            {H_ID: snapshot_id, H_CHUNK: index, H_CHUNKS: len(parts), H_NEXT: next_offset}
            for index in range(len(parts))
        ]
        try:
            await self._publisher.publish(parts, headers)
        finally:
            self._publisher.close()  # saves are seconds apart: hold no channel in between

    async def load_latest(self) -> tuple[int, bytes] | None:
        await self._declare()
        try:
            end = await self._end_offset()
        finally:
            self._publisher.close()
        window = FIRST_WINDOW
        while True:
            start = max(0, end - window)
            found, reached_start = await self._read_window(start, end)
            if found is not None:
                return found
            if reached_start:
                return None
            window *= 4

    async def _subscribe(self, offset: OffsetSpec) -> StreamSubscription:
        channel = await self._link.channel()
        subscription = StreamSubscription(channel, self.stream, 64)
        try:
            await subscription.start(offset, self._settings.operation_timeout_s)
        except BaseException:
            subscription.close()
            raise
        return subscription

    async def _end_offset(self) -> int:
        """The offset of a fresh probe message: every snapshot saved before this call lies below it."""
        probe = uuid.uuid4().hex
        subscription = await self._subscribe("next")
        try:
            await self._publisher.publish([b""], [{H_PROBE: probe}])
            while True:
                for message in await self._next_batch(subscription):
                    if message.headers.get(H_PROBE) == probe:
                        return message.offset
        finally:
            subscription.close()

    async def _next_batch(self, subscription: StreamSubscription) -> list[StreamMessage]:
        batch = await subscription.batch(self._settings.operation_timeout_s)
        if not batch:
            raise self._link.unavailable(
                f"no delivery from {self.stream} within {self._settings.operation_timeout_ms} ms"
            )
        return batch

    async def _read_window(self, start: int, end: int) -> tuple[tuple[int, bytes] | None, bool]:
        """Read offsets [start, end); returns the newest complete snapshot and whether the window
        began at the first retained offset (so widening it would find nothing more)."""
        assemblies: dict[str, _Assembly] = {}
        subscription = await self._subscribe(start)
        first_seen: int | None = None
        try:
            done = False
            while not done:
                for message in await self._next_batch(subscription):
                    if first_seen is None:
                        first_seen = message.offset
                    if message.offset >= end:
                        done = True
                        break
                    if message.offset >= start:
                        self._collect(assemblies, message)
        finally:
            subscription.close()
        reached_start = start == 0 or (first_seen is not None and first_seen > start)
        complete = [a for a in assemblies.values() if a.complete]
        if not complete:
            return None, reached_start
        newest = max(complete, key=lambda a: a.last_offset)
        return (newest.next_offset, newest.state()), reached_start

    @staticmethod
    def _collect(assemblies: dict[str, _Assembly], message: StreamMessage) -> None:
        snapshot_id = message.headers.get(H_ID)
        index = _int_header(message, H_CHUNK)
        chunks = _int_header(message, H_CHUNKS)
        next_offset = _int_header(message, H_NEXT)
        if not isinstance(snapshot_id, str | bytes) or index is None or chunks is None or next_offset is None:
            return
        key = snapshot_id.decode() if isinstance(snapshot_id, bytes) else snapshot_id
        assembly = assemblies.get(key)
        if assembly is None:
            assembly = assemblies[key] = _Assembly(chunks=chunks, next_offset=next_offset)
        if assembly.chunks != chunks or not 0 <= index < chunks:
            return
        assembly.parts[index] = message.body
        assembly.last_offset = message.offset

    async def close(self) -> None:
        self._publisher.close()
