"""``KafkaSnapshotStore``: snapshots in the queue's compacted ``.snapshots`` topic.

A snapshot is written as chunks under keys ``snap/<offset>/<n>`` (each under the max message
size), then the ``head`` key names it; the previous snapshot's chunk keys are tombstoned so
compaction drops them. Loading reads the topic to its end and assembles the newest head whose
chunks are all present (a writer that died mid-way leaves an older, complete head in force).
"""

from __future__ import annotations

import contextlib
import json
import logging

from aiokafka import TopicPartition

from adapters.kafka.connection import KafkaConnection, stop_quietly
from application.replication.log_port import SnapshotStore

logger = logging.getLogger(__name__)

HEAD_KEY = b"head"
FIRST_WINDOW_RECORDS = 64  # records read back from the end first; x4 until a complete snapshot is in


class KafkaSnapshotStore(SnapshotStore):
    def __init__(self, connection: KafkaConnection, topic: str, chunk_bytes: int) -> None:
        self._connection = connection
        self._topic = topic
        self._chunk_bytes = chunk_bytes
        self._previous: tuple[int, int] | None = None  # (offset, chunks) of the snapshot to tombstone

    async def save(self, next_offset: int, state: bytes) -> None:
        size = self._chunk_bytes
        chunks = [state[start : start + size] for start in range(0, len(state), size)] or [b""]
        for index, chunk in enumerate(chunks):
            await self._connection.send(self._topic, _chunk_key(next_offset, index), chunk)
        head = {"offset": next_offset, "chunks": len(chunks), "bytes": len(state)}
        await self._connection.send(self._topic, HEAD_KEY, json.dumps(head).encode())
        previous, self._previous = self._previous, (next_offset, len(chunks))
        if previous is not None and previous[0] != next_offset:
            for index in range(previous[1]):
                await self._connection.send(self._topic, _chunk_key(previous[0], index), None)

    async def load_latest(self) -> tuple[int, bytes] | None:
        """The newest complete snapshot, read from a window at the topic's end, widened until it
        holds one (a head follows its chunks): the topic's older snapshots are never read, even
        where the broker does not compact (Tansu)."""
        connection = self._connection
        end = await connection.end_offset(self._topic)
        if end == 0:
            return None
        window = FIRST_WINDOW_RECORDS
        while True:
            start = max(0, end - window)
            heads, values = await self._read(start, end)
            for head in reversed(heads):
                state = _assemble(head, values)
                if state is not None:
                    self._previous = (head["offset"], head["chunks"])
                    return head["offset"], state
            if start == 0:
                logger.warning("no complete snapshot in %s: replaying the whole log", self._topic)
                return None
            window *= 4

    async def _read(self, start: int, end: int) -> tuple[list[dict[str, int]], dict[bytes, bytes | None]]:
        connection = self._connection
        partition = TopicPartition(self._topic, 0)
        values: dict[bytes, bytes | None] = {}
        heads: list[dict[str, int]] = []
        consumer = connection.new_consumer(auto_offset_reset="earliest")
        try:
            await connection.guard(consumer.start(), "starting the snapshot reader")
            consumer.assign([partition])
            consumer.seek(partition, start)
            position = start
            while position < end:
                batches = await connection.guard(
                    consumer.getmany(partition, timeout_ms=500), "reading snapshots"
                )
                messages = batches.get(partition, ())
                if not messages:
                    break  # nothing more below the end (compaction can leave the last offsets empty)
                for message in messages:
                    if message.offset >= end:
                        break
                    position = message.offset + 1
                    if message.key == HEAD_KEY and message.value:
                        with contextlib.suppress(ValueError):
                            heads.append(json.loads(message.value))
                    elif message.key is not None:
                        values[message.key] = message.value
        finally:
            await stop_quietly(consumer)
        return heads, values


def _chunk_key(offset: int, index: int) -> bytes:
    return f"snap/{offset}/{index}".encode()


def _assemble(head: dict[str, int], values: dict[bytes, bytes | None]) -> bytes | None:
    try:
        offset, count = int(head["offset"]), int(head["chunks"])
    except (KeyError, TypeError, ValueError):
        return None
    parts = [values.get(_chunk_key(offset, index)) for index in range(count)]
    if any(part is None for part in parts):
        return None
    return b"".join(part for part in parts if part is not None)
