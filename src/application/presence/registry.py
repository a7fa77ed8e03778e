"""The worker registry port: heartbeats of live worker processes, stored on the broker (ADR 0025).

A ``backbone worker`` process publishes a ``WorkerHeartbeat`` every ``interval_ms``; it stays
listed until ``expires_at`` (``beat_at + ttl_ms``, ``ttl_ms`` = ``HEARTBEAT_MISSES`` intervals), so a
killed worker drops out at most ``HEARTBEAT_MISSES`` intervals after its last beat; a worker that
stops cleanly removes itself at once. Every adapter stores the same JSON (``to_json``/``from_json``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

HEARTBEAT_MISSES = 3  # a worker is dead once this many heartbeats in a row are missing
MAX_LISTED_ACTIVE_JOBS = 100  # a heartbeat names at most this many active jobs (``active_count`` is exact)


@dataclass(frozen=True, slots=True)
class WorkedQueue:
    """One queue a worker process works: its ``Worker``'s id and concurrency."""

    name: str
    worker_id: str
    concurrency: int


@dataclass(frozen=True, slots=True)
class ActiveJob:
    """A job whose handler runs now in the worker (``started_at`` epoch ms)."""

    queue: str
    job_id: str
    name: str
    attempt: int
    started_at: int


@dataclass(frozen=True, slots=True)
class WorkerHeartbeat:
    worker_id: str
    host: str
    pid: int
    version: str
    started_at: int  # epoch ms, when the process's workers started
    beat_at: int  # epoch ms, when this heartbeat was made
    ttl_ms: int  # listed until beat_at + ttl_ms
    queues: tuple[WorkedQueue, ...]
    active_count: int
    active_jobs: tuple[ActiveJob, ...]  # at most MAX_LISTED_ACTIVE_JOBS of them

    @property
    def expires_at(self) -> int:
        return self.beat_at + self.ttl_ms

    @property
    def concurrency(self) -> int:
        return sum(queue.concurrency for queue in self.queues)

    def as_dict(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "host": self.host,
            "pid": self.pid,
            "version": self.version,
            "started_at": self.started_at,
            "beat_at": self.beat_at,
            "ttl_ms": self.ttl_ms,
            "queues": [
                {"name": q.name, "worker_id": q.worker_id, "concurrency": q.concurrency} for q in self.queues
            ],
            "concurrency": self.concurrency,
            "active_count": self.active_count,
            "active_jobs": [
                {
                    "queue": job.queue,
                    "job_id": job.job_id,
                    "name": job.name,
                    "attempt": job.attempt,
                    "started_at": job.started_at,
                }
                for job in self.active_jobs
            ],
        }

    def to_json(self) -> bytes:
        return json.dumps(self.as_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> WorkerHeartbeat | None:
        """The heartbeat in ``raw``, or None when it is not one (anything else on the broker is skipped)."""
        try:
            data = json.loads(raw)
            return cls(
                worker_id=str(data["worker_id"]),
                host=str(data["host"]),
                pid=int(data["pid"]),
                version=str(data["version"]),
                started_at=int(data["started_at"]),
                beat_at=int(data["beat_at"]),
                ttl_ms=int(data["ttl_ms"]),
                queues=tuple(
                    WorkedQueue(str(q["name"]), str(q["worker_id"]), int(q["concurrency"]))
                    for q in data["queues"]
                ),
                active_count=int(data["active_count"]),
                active_jobs=tuple(
                    ActiveJob(
                        str(j["queue"]),
                        str(j["job_id"]),
                        str(j["name"]),
                        int(j["attempt"]),
                        int(j["started_at"]),
                    )
                    for j in data["active_jobs"]
                ),
            )
        except (ValueError, KeyError, TypeError):
            return None


def latest_live(records: Iterable[WorkerHeartbeat | str], now_ms: int) -> list[WorkerHeartbeat]:
    """From records in the order they were stored (a heartbeat, or the id of a worker that left):
    the last heartbeat of each worker that has not left or expired by ``now_ms``, sorted by id."""
    last: dict[str, WorkerHeartbeat] = {}
    for record in records:
        if isinstance(record, str):
            last.pop(record, None)
        else:
            last[record.worker_id] = record
    return sorted((beat for beat in last.values() if beat.expires_at > now_ms), key=lambda b: b.worker_id)


class WorkerRegistry(ABC):
    """Where heartbeats are stored on one broker (one adapter per broker)."""

    @abstractmethod
    async def publish(self, beat: WorkerHeartbeat) -> None:
        """Store ``beat`` (replacing the worker's previous one). Raises ``BrokerUnavailableError``."""

    @abstractmethod
    async def remove(self, worker_id: str) -> None:
        """The worker stopped cleanly: it is no longer listed."""

    @abstractmethod
    async def live(self) -> list[WorkerHeartbeat]:
        """The last heartbeat of every worker that has not expired or left, sorted by worker id."""

    async def close(self) -> None:  # noqa: B027 - optional: most registries own nothing
        """Release what this registry opened itself (the broker's own connections stay open)."""
