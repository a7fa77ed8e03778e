"""Prometheus metrics as a hook (ADR 0016): counters and histograms from the producer and worker
events, gauges of jobs per state from polled ``QueueStats``, and the worker's info and up metrics.

Labels are bounded: ``queue`` and ``job_name`` (never a job id); ``job_name`` keeps at most
``MAX_JOB_NAMES`` distinct values per queue and folds the rest into ``OTHER_JOB_NAME``, so a producer
sending arbitrary names cannot grow the series without limit. Needs the ``prometheus`` extra.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from application.hooks import Adding, Attempt, Hook
from application.worker.retry_policy import failure_category
from domain.queue.job import QueueStats

MAX_JOB_NAMES = 100
OTHER_JOB_NAME = "other"
PREFIX = "backbone"

# seconds: from a 5 ms handler up to a 10 min batch
PROCESSING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
# seconds: from a hot queue to a backlog of an hour
WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
STATES = ("waiting", "delayed", "active", "completed", "failed")


class PrometheusHook(Hook):
    """Every metric lives in ``registry`` (a fresh one when not given), served by whoever exposes it."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._names: dict[str, set[str]] = {}
        r = self.registry
        by_name = ("queue", "job_name")
        self.added = Counter(f"{PREFIX}_jobs_added", "Jobs stored by add/add_bulk", by_name, registry=r)
        self.started = Counter(
            f"{PREFIX}_jobs_started", "Attempts whose handler started", by_name, registry=r
        )
        self.completed = Counter(f"{PREFIX}_jobs_completed", "Attempts completed", by_name, registry=r)
        self.failed = Counter(
            f"{PREFIX}_jobs_failed",
            "Failed attempts stored (retried or dead-lettered), by failure category",
            (*by_name, "category"),
            registry=r,
        )
        self.retried = Counter(
            f"{PREFIX}_jobs_retried", "Failed attempts that run again", by_name, registry=r
        )
        self.dead_lettered = Counter(
            f"{PREFIX}_jobs_dead_lettered", "Jobs moved to the dead-letter set", by_name, registry=r
        )
        self.handed_back = Counter(
            f"{PREFIX}_jobs_handed_back",
            "Jobs given back because no handler here knows their name (ADR 0017)",
            by_name,
            registry=r,
        )
        self.lease_lost = Counter(
            f"{PREFIX}_jobs_lease_lost", "Attempts whose lease went to another worker", by_name, registry=r
        )
        self.processing = Histogram(
            f"{PREFIX}_job_processing_seconds",
            "Handler time of an attempt, start to outcome",
            by_name,
            buckets=PROCESSING_BUCKETS,
            registry=r,
        )
        self.wait = Histogram(
            f"{PREFIX}_job_wait_seconds",
            "First attempts: from when the job was due (added, plus its delay) to its start",
            by_name,
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.jobs = Gauge(
            f"{PREFIX}_queue_jobs", "Jobs per state (polled from get_stats)", ("queue", "state"), registry=r
        )
        self.paused = Gauge(
            f"{PREFIX}_queue_paused", "1 when the queue is paused (polled)", ("queue",), registry=r
        )
        self.worker_info = Gauge(
            f"{PREFIX}_worker_info",
            "One series per worker of this process (value 1)",
            ("queue", "worker_id", "concurrency", "version"),
            registry=r,
        )
        self.up = Gauge(f"{PREFIX}_worker_up", "1 while this process's workers run", registry=r)

    # --- labels -------------------------------------------------------------------------------------

    def job_name(self, queue: str, name: str) -> str:
        """``name`` itself, or ``OTHER_JOB_NAME`` once ``queue`` has ``MAX_JOB_NAMES`` others."""
        names = self._names.setdefault(queue, set())
        if name in names:
            return name
        if len(names) >= MAX_JOB_NAMES:
            return OTHER_JOB_NAME
        names.add(name)
        return name

    def _labels(self, attempt: Attempt) -> tuple[str, str]:
        return attempt.queue, self.job_name(attempt.queue, attempt.job.name)

    # --- what the process knows about itself ----------------------------------------------------------

    def worker_started(self, queue: str, worker_id: str, concurrency: int, version: str) -> None:
        self.worker_info.labels(queue, worker_id, str(concurrency), version).set(1)
        self.up.set(1)

    def workers_stopped(self) -> None:
        self.up.set(0)

    def queue_stats(self, queue: str, stats: QueueStats) -> None:
        for state in STATES:
            self.jobs.labels(queue, state).set(getattr(stats, state))
        self.paused.labels(queue).set(1 if stats.paused else 0)

    # --- producer -------------------------------------------------------------------------------------

    def after_add(self, adding: Adding) -> None:
        for job in adding.jobs or ():
            if not job.deduplicated:
                self.added.labels(adding.queue, self.job_name(adding.queue, job.name)).inc()

    # --- worker ---------------------------------------------------------------------------------------

    def on_started(self, attempt: Attempt) -> None:
        attempt.state[self] = True  # the end events observe handler time only for started attempts
        labels = self._labels(attempt)
        self.started.labels(*labels).inc()
        if attempt.number == 1:
            due_ms = attempt.job.created_at + attempt.job.options.delay
            self.wait.labels(*labels).observe(max(0.0, time.time() - due_ms / 1000))

    def _ended(self, attempt: Attempt, labels: tuple[str, str]) -> None:
        if attempt.state.get(self):
            self.processing.labels(*labels).observe(attempt.duration_ms / 1000)

    def on_completed(self, attempt: Attempt) -> None:
        labels = self._labels(attempt)
        self.completed.labels(*labels).inc()
        self._ended(attempt, labels)

    def _failed(self, attempt: Attempt, labels: tuple[str, str]) -> None:
        # no error: the attempt was cut off at shutdown and handed back (it runs again)
        category = failure_category(attempt.error) if attempt.error is not None else "interrupted"
        self.failed.labels(*labels, category).inc()
        self._ended(attempt, labels)

    def on_retry_scheduled(self, attempt: Attempt) -> None:
        labels = self._labels(attempt)
        self.retried.labels(*labels).inc()
        self._failed(attempt, labels)

    def on_dead_lettered(self, attempt: Attempt) -> None:
        labels = self._labels(attempt)
        self.dead_lettered.labels(*labels).inc()
        self._failed(attempt, labels)

    def on_lease_lost(self, attempt: Attempt) -> None:
        labels = self._labels(attempt)
        self.lease_lost.labels(*labels).inc()
        self._ended(attempt, labels)

    def on_handed_back(self, attempt: Attempt) -> None:
        self.handed_back.labels(*self._labels(attempt)).inc()
