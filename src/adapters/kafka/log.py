"""``KafkaLog``: the replication log of one queue on its single-partition ``.log`` topic.

Tailing uses an assigned consumer (no group: every process reads everything) with a low
``fetch_max_wait_ms``; the barrier is the partition's end offset read by the connection's idle
consumer: every append acknowledged (acks=all) before the call lies below it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, OffsetOutOfRangeError

from adapters.kafka.connection import KafkaConnection, stop_quietly
from adapters.kafka.topics import QueueTopics
from application.replication.log_port import LogRecord, ReplicationLog
from domain.queue.errors import BrokerUnavailableError

POLL_TIMEOUT_MS = 1_000


class KafkaLog(ReplicationLog):
    places_records_on_append = True  # acks=all returns each record's offset

    def __init__(self, connection: KafkaConnection, topics: QueueTopics) -> None:
        self._connection = connection
        self._topics = topics
        self._partition = TopicPartition(topics.log, 0)
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: AIOKafkaConsumer | None = None  # read_range's consumer, paused between reads
        self._reading = asyncio.Lock()

    async def open(self) -> None:
        connection = self._connection
        await connection.start()
        await connection.ensure_topics(self._topics.definitions(connection.settings))

    async def append(self, payloads: Sequence[bytes]) -> None:
        await self._connection.append(self._topics.log, payloads)

    async def append_at(self, payloads: Sequence[bytes]) -> list[int]:
        return await self._connection.append(self._topics.log, payloads)

    async def tail(self, from_offset: int) -> AsyncIterator[LogRecord]:
        consumer = await self._tailing_consumer()
        partition = self._partition
        consumer.seek(partition, from_offset)
        while True:
            try:
                batches = await consumer.getmany(partition, timeout_ms=POLL_TIMEOUT_MS)
            except OffsetOutOfRangeError as exc:
                raise BrokerUnavailableError(
                    self._connection.broker,
                    f"offset {from_offset} of {self._topics.log} is gone (retention): needs a newer snapshot",
                ) from exc
            except KafkaError as exc:
                raise BrokerUnavailableError(
                    self._connection.broker, f"tailing failed: {type(exc).__name__}"
                ) from exc
            for message in batches.get(partition, ()):
                from_offset = message.offset + 1
                yield LogRecord(
                    offset=message.offset, payload=message.value or b"", timestamp_ms=message.timestamp
                )

    async def read_range(self, from_offset: int, to_offset: int) -> list[LogRecord]:
        """Records in ``[from_offset, to_offset)`` that are in the log now (``fetch_min_bytes=1``:
        records already there come back at once). Stops early if the broker has nothing more
        within ``fetch_max_wait_ms`` (a short read: the tail brings the rest)."""
        async with self._reading:
            reader = await self._range_reader()
            partition = self._partition
            records: list[LogRecord] = []
            reader.seek(partition, from_offset)
            reader.resume(partition)
            try:
                while from_offset < to_offset:
                    try:
                        batches = await reader.getmany(
                            partition, timeout_ms=2 * self._connection.settings.fetch_max_wait_ms
                        )
                    except KafkaError as exc:
                        raise BrokerUnavailableError(
                            self._connection.broker, f"reading the log failed: {type(exc).__name__}"
                        ) from exc
                    messages = batches.get(partition, ())
                    if not messages:
                        break
                    for message in messages:
                        if message.offset >= to_offset:
                            break
                        from_offset = message.offset + 1
                        records.append(
                            LogRecord(
                                offset=message.offset,
                                payload=message.value or b"",
                                timestamp_ms=message.timestamp,
                            )
                        )
            finally:
                reader.pause(partition)
            return records

    async def _range_reader(self) -> AIOKafkaConsumer:
        if self._reader is None:
            connection = self._connection
            reader = connection.new_consumer(fetch_min_bytes=1)
            await _started(connection, reader, "starting the log reader")
            reader.assign([self._partition])
            reader.pause(self._partition)
            self._reader = reader
        return self._reader

    async def barrier(self) -> int:
        return await self._connection.end_offset(self._topics.log)

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        reader, self._reader = self._reader, None
        await stop_quietly(consumer)
        await stop_quietly(reader)

    async def _tailing_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            connection = self._connection
            consumer = connection.new_consumer(fetch_min_bytes=connection.settings.fetch_min_bytes)
            await _started(connection, consumer, "starting the log consumer")
            consumer.assign([self._partition])
            self._consumer = consumer
        return self._consumer


async def _started(connection: KafkaConnection, consumer: AIOKafkaConsumer, what: str) -> None:
    """Start ``consumer``; stopped again if that fails or is cancelled (an engine closing while its
    tail starts), so no connection is left open behind it."""
    try:
        await connection.guard(consumer.start(), what)
    except BaseException:
        await stop_quietly(consumer)
        raise
