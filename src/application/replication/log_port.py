"""Ports of the log-replicated queue: what RabbitMQ (streams) and Kafka (topics) each provide.

The replication engine (``application.replication``) runs ``QueueStateMachine`` over one ordered,
durable log per queue: every process appends events and applies every event in log order, so
every process holds the same state. A broker adapter supplies only these three small pieces.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LogRecord:
    offset: int  # position in the log, strictly increasing
    payload: bytes  # may be anything a raw client wrote: the engine decodes and judges it
    timestamp_ms: int  # broker or appender time; informational


class ReplicationLog(ABC):
    """One ordered, durable, append-only log for one queue, readable by every process."""

    # True when ``append_at`` returns the broker-assigned offset of every payload it confirms: the
    # record has its place in the log. Only then may an add that needs no state return on the
    # confirm alone (ADR 0028); otherwise the outcome waits for the record to be read back.
    places_records_on_append: bool = False

    @abstractmethod
    async def open(self) -> None:
        """Connect and create the log (stream / topic) if missing. Raises BrokerUnavailableError."""

    @abstractmethod
    async def append(self, payloads: Sequence[bytes]) -> None:
        """Append in order; returns once the broker has durably accepted every payload (confirms/acks)."""

    async def append_at(self, payloads: Sequence[bytes]) -> Sequence[int] | None:
        """``append``, returning the offset of each payload when the log reports them (else None).

        Optional: the engine then applies its own records at once when they directly follow what
        its replica has applied, instead of waiting to read them back through ``tail``.
        """
        await self.append(payloads)
        return None

    async def read_range(self, from_offset: int, to_offset: int) -> Sequence[LogRecord] | None:
        """The records in ``[from_offset, to_offset)``, read at once, in order (None: not supported).

        Optional: when this process's own append landed behind records of other processes that
        its replica has not applied yet, the engine reads that gap at once instead of waiting for
        ``tail`` to bring it (a tail may hold a waiting fetch for a while, as Kafka's does).
        """
        return None

    @abstractmethod
    def tail(self, from_offset: int) -> AsyncIterator[LogRecord]:
        """Yield records from ``from_offset`` on, in order, forever (waiting for new ones)."""

    @abstractmethod
    async def barrier(self) -> int:
        """An offset B such that every record whose ``append`` returned before this call has offset < B.

        Kafka: the partition's end offset. RabbitMQ: append a marker and return its offset + 1.
        Reads wait until the local replica has applied everything below B (linearizable reads).
        """

    @abstractmethod
    async def close(self) -> None:
        """Idempotent."""


class SnapshotStore(ABC):
    """Periodic snapshots of the replicated state so a new process does not replay all history."""

    @abstractmethod
    async def save(self, next_offset: int, state: bytes) -> None:
        """Store ``state`` = the result of applying every record below ``next_offset``."""

    @abstractmethod
    async def load_latest(self) -> tuple[int, bytes] | None:
        """The newest snapshot as ``(next_offset, state)``, or None."""


class LeaderElection(ABC):
    """Elects one maintenance leader per queue (ticks, lease sweeps, snapshots).

    Correctness never depends on a unique leader: ticks are idempotent; it only saves work.
    """

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    def is_leader(self) -> bool: ...

    @abstractmethod
    async def stop(self) -> None: ...
