"""Counters a worker keeps about itself (the seeds' ``WorkerMetrics``): the worker's built-in hook."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from application.hooks import Attempt, Hook
from application.queue_backend import ClaimedJob, LeaseRef


@dataclass(slots=True)
class WorkerMetrics(Hook):
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0  # failed attempts stored (retried or dead-lettered)
    dead_lettered: int = 0
    stale: int = 0  # attempts whose lease was lost (or whose outcome could not be stored)
    handed_back: int = 0  # jobs given back for want of a handler here (ADR 0017)
    released: int = 0
    total_ms: float = 0.0  # time spent on the succeeded and failed attempts

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed

    @property
    def average_ms(self) -> float:
        return self.total_ms / self.processed if self.processed else 0.0

    def on_claimed(self, queue: str, claimed: Sequence[ClaimedJob]) -> None:
        self.claimed += len(claimed)

    def on_completed(self, attempt: Attempt) -> None:
        self.succeeded += 1
        self.total_ms += attempt.duration_ms

    def on_retry_scheduled(self, attempt: Attempt) -> None:
        self.failed += 1
        self.total_ms += attempt.duration_ms

    def on_dead_lettered(self, attempt: Attempt) -> None:
        self.failed += 1
        self.dead_lettered += 1
        self.total_ms += attempt.duration_ms

    def on_lease_lost(self, attempt: Attempt) -> None:
        self.stale += 1

    def on_handed_back(self, attempt: Attempt) -> None:
        self.handed_back += 1

    def on_released(self, queue: str, leases: Sequence[LeaseRef]) -> None:
        self.released += len(leases)
