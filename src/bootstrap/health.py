"""Queue health (seeds 000/002): per queue up/down, its counts, and the failure rate.

A queue is ``up`` when its stats come back within the timeout; ``down`` otherwise (the error is
reported with the broker URL redacted, as the adapters raise it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from bootstrap.queues import QueueHandles
from domain.queue.errors import QueueError
from domain.queue.job import QueueStats


@dataclass(frozen=True, slots=True)
class QueueHealth:
    queue: str
    up: bool
    stats: QueueStats | None = None
    error: str | None = None

    @property
    def failure_rate(self) -> float | None:
        """Dead-lettered share of finished jobs still held (``None`` when nothing finished)."""
        if self.stats is None:
            return None
        finished = self.stats.completed + self.stats.failed
        return round(self.stats.failed / finished, 4) if finished else None

    def as_dict(self) -> dict[str, object]:
        entry: dict[str, object] = {"queue": self.queue, "status": "up" if self.up else "down"}
        if self.stats is not None:
            entry.update(
                waiting=self.stats.waiting,
                delayed=self.stats.delayed,
                active=self.stats.active,
                completed=self.stats.completed,
                failed=self.stats.failed,
                paused=self.stats.paused,
                failure_rate=self.failure_rate,
            )
        if self.error is not None:
            entry["error"] = self.error
        return entry


async def check_queue(handles: QueueHandles, name: str, timeout_s: float) -> QueueHealth:
    try:
        async with asyncio.timeout(timeout_s):
            stats = await handles.handle(name).get_stats()
    except TimeoutError:
        return QueueHealth(name, False, error=f"no answer within {timeout_s:g} s")
    except QueueError as exc:
        return QueueHealth(name, False, error=str(exc))
    return QueueHealth(name, True, stats)


async def check_health(handles: QueueHandles, queues: Sequence[str], timeout_s: float) -> list[QueueHealth]:
    """Every queue checked at once, so an unreachable broker costs one timeout, not one per queue."""
    return list(await asyncio.gather(*(check_queue(handles, name, timeout_s) for name in queues)))
