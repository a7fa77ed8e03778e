"""Counters a worker keeps about itself (the seeds' ``WorkerMetrics``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class WorkerMetrics:
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0  # attempts that failed (retried or dead-lettered)
    dead_lettered: int = 0
    stale: int = 0  # results refused because the lease had been lost
    released: int = 0
    total_ms: float = 0.0

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed

    @property
    def average_ms(self) -> float:
        return self.total_ms / self.processed if self.processed else 0.0
