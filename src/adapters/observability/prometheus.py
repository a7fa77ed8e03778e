"""Prometheus metrics as a hook (ADR 0016): counters and histograms from the producer and worker
events, gauges of jobs per state from polled ``QueueStats``, and the worker's info and up metrics.

Labels are bounded: ``queue`` and ``job_name`` (never a job id); ``job_name`` keeps at most
``MAX_JOB_NAMES`` distinct values per queue and folds the rest into ``OTHER_JOB_NAME``, so a producer
sending arbitrary names cannot grow the series without limit. Needs the ``prometheus`` extra.
"""

from __future__ import annotations

import time
from collections.abc import Callable

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
        self._by_name: dict[tuple[str, str], _Series] = {}
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
        self.active = Gauge(
            f"{PREFIX}_worker_active_jobs",
            "Jobs whose handler runs now in this process's worker (read at scrape time)",
            ("queue",),
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

    def _series(self, queue: str, name: str) -> _Series:
        """The labelled children of one (queue, job name), made once (at most ``MAX_JOB_NAMES`` + 1)."""
        series = self._by_name.get((queue, name))
        if series is None:
            label = self.job_name(queue, name)
            series = self._by_name.get((queue, label))
            if series is None:
                series = self._by_name[(queue, label)] = _Series(self, queue, label)
        return series

    def _of(self, attempt: Attempt) -> _Series:
        started: _Series | None = attempt.state.get(self)  # set by on_started
        return started if started is not None else self._series(attempt.queue, attempt.job.name)

    # --- what the process knows about itself ----------------------------------------------------------

    def worker_started(
        self,
        queue: str,
        worker_id: str,
        concurrency: int,
        version: str,
        active_jobs: Callable[[], float] | None = None,
    ) -> None:
        """Info and up for one worker; ``active_jobs`` (read at each scrape) feeds its active gauge."""
        self.worker_info.labels(queue, worker_id, str(concurrency), version).set(1)
        if active_jobs is not None:
            self.active.labels(queue).set_function(active_jobs)
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
                self._series(adding.queue, job.name).added.inc()

    # --- worker ---------------------------------------------------------------------------------------

    def on_started(self, attempt: Attempt) -> None:
        series = self._series(attempt.queue, attempt.job.name)
        attempt.state[self] = series  # the end events observe handler time only for started attempts
        series.started.inc()
        if attempt.number == 1:
            due_ms = attempt.job.created_at + attempt.job.options.delay
            series.wait.observe(max(0.0, time.time() - due_ms / 1000))

    def _ended(self, attempt: Attempt, series: _Series) -> None:
        if self in attempt.state:
            series.processing.observe(attempt.duration_ms / 1000)

    def on_completed(self, attempt: Attempt) -> None:
        series = self._of(attempt)
        series.completed.inc()
        self._ended(attempt, series)

    def _failed(self, attempt: Attempt, series: _Series) -> None:
        # no error: the attempt was cut off at shutdown and handed back (it runs again)
        category = failure_category(attempt.error) if attempt.error is not None else "interrupted"
        series.failed(category).inc()
        self._ended(attempt, series)

    def on_retry_scheduled(self, attempt: Attempt) -> None:
        series = self._of(attempt)
        series.retried.inc()
        self._failed(attempt, series)

    def on_dead_lettered(self, attempt: Attempt) -> None:
        series = self._of(attempt)
        series.dead_lettered.inc()
        self._failed(attempt, series)

    def on_lease_lost(self, attempt: Attempt) -> None:
        series = self._of(attempt)
        series.lease_lost.inc()
        self._ended(attempt, series)

    def on_handed_back(self, attempt: Attempt) -> None:
        self._of(attempt).handed_back.inc()


class _Series:
    """The children of every per-job metric for one (queue, job_name): a lookup once, not per event."""

    __slots__ = (
        "_failed",
        "_hook",
        "added",
        "completed",
        "dead_lettered",
        "handed_back",
        "job_name",
        "lease_lost",
        "processing",
        "queue",
        "retried",
        "started",
        "wait",
    )

    def __init__(self, hook: PrometheusHook, queue: str, job_name: str) -> None:
        self._hook = hook
        self.queue = queue
        self.job_name = job_name
        self.added = hook.added.labels(queue, job_name)
        self.started = hook.started.labels(queue, job_name)
        self.completed = hook.completed.labels(queue, job_name)
        self.retried = hook.retried.labels(queue, job_name)
        self.dead_lettered = hook.dead_lettered.labels(queue, job_name)
        self.handed_back = hook.handed_back.labels(queue, job_name)
        self.lease_lost = hook.lease_lost.labels(queue, job_name)
        self.processing = hook.processing.labels(queue, job_name)
        self.wait = hook.wait.labels(queue, job_name)
        self._failed: dict[str, Counter] = {}

    def failed(self, category: str) -> Counter:
        counter = self._failed.get(category)
        if counter is None:  # a handful of categories (failure_category and "interrupted")
            counter = self._failed[category] = self._hook.failed.labels(self.queue, self.job_name, category)
        return counter
