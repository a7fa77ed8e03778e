"""``MemoryLog``: the ``ReplicationLog`` port on a Python list, shared by every engine given it.

Several engines on one ``MemoryLog`` behave like several processes on one broker log: each gets
its own replica and reads every record in order. ``set_available(False)`` simulates an outage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

from application.replication.log_port import LeaderElection, LogRecord, ReplicationLog, SnapshotStore
from domain.queue.errors import BrokerUnavailableError

BROKER_NAME = "memory-log://local"


class MemoryLogStorage:
    """The records themselves; several ``MemoryLog`` clients may share one storage."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []
        self.available = True
        self._grown = asyncio.Event()

    def append(self, payloads: Sequence[bytes]) -> list[int]:
        if not self.available:
            raise BrokerUnavailableError(BROKER_NAME, "log offline")
        now = time.time_ns() // 1_000_000
        offsets = []
        for payload in payloads:
            offsets.append(len(self.records))
            self.records.append(LogRecord(offset=len(self.records), payload=payload, timestamp_ms=now))
        grown, self._grown = self._grown, asyncio.Event()
        grown.set()
        return offsets

    def grown_event(self) -> asyncio.Event:
        return self._grown


class MemoryLog(ReplicationLog):
    def __init__(self, storage: MemoryLogStorage) -> None:
        self.storage = storage
        self._closed = False

    async def open(self) -> None:
        self._check()

    async def append(self, payloads: Sequence[bytes]) -> None:
        await self.append_at(payloads)

    async def append_at(self, payloads: Sequence[bytes]) -> list[int]:
        self._check()
        await asyncio.sleep(0)  # a round trip: lets other appenders queue up behind this one
        return self.storage.append(payloads)

    async def tail(self, from_offset: int) -> AsyncIterator[LogRecord]:
        offset = from_offset
        while not self._closed:
            self._check()
            records = self.storage.records
            while offset < len(records):
                yield records[offset]
                offset += 1
            grown = self.storage.grown_event()
            if offset >= len(self.storage.records):
                await grown.wait()

    async def read_range(self, from_offset: int, to_offset: int) -> list[LogRecord]:
        self._check()
        await asyncio.sleep(0)
        return self.storage.records[from_offset:to_offset]

    async def barrier(self) -> int:
        self._check()
        await asyncio.sleep(0)
        return len(self.storage.records)

    async def close(self) -> None:
        self._closed = True

    def _check(self) -> None:
        if not self.storage.available:
            raise BrokerUnavailableError(BROKER_NAME, "log offline")


class MemorySnapshotStore(SnapshotStore):
    def __init__(self) -> None:
        self.saved: list[tuple[int, bytes]] = []

    async def save(self, next_offset: int, state: bytes) -> None:
        self.saved.append((next_offset, state))

    async def load_latest(self) -> tuple[int, bytes] | None:
        return max(self.saved, key=lambda item: item[0]) if self.saved else None


class MemoryLeaderElection(LeaderElection):
    """Leadership decided by the test: ``leader=True`` for the maintenance process."""

    def __init__(self, leader: bool = True) -> None:
        self.leader = leader
        self._started = False

    async def start(self) -> None:
        self._started = True

    def is_leader(self) -> bool:
        return self._started and self.leader

    async def stop(self) -> None:
        self._started = False
