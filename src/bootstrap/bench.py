"""``backbone bench``: add throughput, end-to-end throughput and enqueue-to-start latency, as JSON.

Runs in one process on one event loop (one core) against the configured broker. Each phase uses
its own fresh queue (``bench-<phase>-<run id>``) so runs on a persistent broker do not mix.
``docs/benchmarks.md`` explains every field.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from application.broker import Broker
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobType, JobTypes
from application.queue_backend import QueueBackend
from application.redaction import redact_url
from application.worker import HandlerRegistry, Worker, WorkerOptions
from bootstrap import bench_worker
from bootstrap.bench_worker import NOOP_JOB, WORKER_READY
from bootstrap.settings import CONFIG_FILE_ENV
from domain.queue.context import JobContext
from domain.queue.job import NewJob
from domain.queue.options import KeepJobs, QueueDefaults

MEMORY_TARGET_JOBS_PER_S = 20_000


@dataclass(frozen=True, slots=True)
class BenchParameters:
    add_jobs: int = 20_000  # jobs added one await at a time
    bulk_jobs: int = 20_000  # jobs added through add_bulk
    bulk_batch: int = 1000
    e2e_jobs: int = 20_000  # no-op jobs drained by one worker
    concurrency: int = 32
    prefetch: int = 32
    latency_jobs: int = 1000
    latency_gap_ms: float = 2.0  # pause between two adds of the latency phase
    timeout_s: float = 600.0  # per phase
    repeat: int = 1  # end-to-end runs; the figure is their median (a shared machine is noisy)
    cross_process: bool = False  # also measure latency with the worker in another process
    realistic: bool = False  # worker in its own process timed from its spawn, handler I/O, default retention
    realistic_concurrency: int = 50
    rate_per_s: float = 200.0  # the realistic latency phase adds at this fixed rate
    io_url: str | None = None  # the realistic handler's round trip (default: the broker if Redis, else echo)
    cold_start: bool = False  # only the cold-start phases: a new producer and a new worker behind a backlog
    cold_start_backlog: int = 200_000  # waiting jobs in front of them, built by single adds
    cold_start_window: int = 64  # single adds in flight at once while building the backlog
    cold_start_adds: int = 3_000  # the new producer's sequential awaited adds after its first

    def validate(self) -> BenchParameters:
        for name in (
            "add_jobs",
            "bulk_jobs",
            "bulk_batch",
            "e2e_jobs",
            "concurrency",
            "latency_jobs",
            "repeat",
            "realistic_concurrency",
            "cold_start_backlog",
            "cold_start_window",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1")
        if self.prefetch < 0 or self.latency_gap_ms < 0 or self.timeout_s <= 0:
            raise ValueError("prefetch and latency_gap_ms must be >= 0, timeout_s > 0")
        if self.cold_start_adds < 0:
            raise ValueError("cold_start_adds: must be >= 0")
        if self.rate_per_s <= 0:
            raise ValueError("rate_per_s: must be > 0")
        if self.io_url is not None and not self.io_url.startswith(("redis://", "rediss://", "tcp://")):
            raise ValueError("io_url: must be redis://... or tcp://HOST:PORT")
        return self


def machine_info() -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return {
        "cpu_count": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def _seconds(ns: int) -> float:
    return round(ns / 1e9, 4)


def _rate(jobs: int, seconds: float) -> float:
    return round(jobs / seconds, 1) if seconds > 0 else 0.0


class Benchmark:
    def __init__(
        self,
        broker: Broker,
        params: BenchParameters,
        *,
        config_file: str | None = None,
        broker_url: str | None = None,
    ) -> None:
        """``config_file``: the settings file the worker processes read too; ``broker_url``: the
        broker's URL with its credentials (``broker.url`` is redacted), for those processes."""
        self.broker = broker
        self.params = params.validate()
        # The worker processes: this environment, with the bench's broker (and file).
        self.worker_env = {**os.environ, "BACKBONE_BROKER__URL": broker_url or broker.url}
        if config_file is not None:
            self.worker_env[CONFIG_FILE_ENV] = config_file
        self.run_id = uuid.uuid4().hex[:8]
        # Keep nothing finished: retention work is part of the real cost, a growing table is not.
        self.defaults = QueueDefaults(attempts=1, timeout=None, remove_on_complete=KeepJobs(count=0))
        self.job_types = JobTypes([JobType(NOOP_JOB)])

    async def _queue(self, phase: str, defaults: QueueDefaults | None = None) -> QueueBackend:
        factory = JobFactory(f"bench-{phase}-{self.run_id}", self.job_types, defaults or self.defaults)
        return await self.broker.open_queue(factory)

    async def run(self) -> dict[str, Any]:
        started = dt.datetime.now(dt.UTC)
        if self.params.cold_start:
            results = {"cold_start": await asyncio.wait_for(self.cold_start(), self.params.timeout_s)}
        elif self.params.realistic:
            results = await self._realistic_phases()
        else:
            results = await self._no_op_phases()
        e2e_rate = results["end_to_end"]["jobs_per_s"] if "end_to_end" in results else None
        is_memory = self.broker.url.startswith("memory:")
        has_target = is_memory and e2e_rate is not None
        return {
            "benchmark": "messaging-backbone",
            "format_version": 1,
            "started_at": started.isoformat(timespec="seconds"),
            "machine": machine_info(),
            "broker": {"url": redact_url(self.broker.url), "adapter": type(self.broker).__name__},
            "parameters": asdict(self.params),
            "results": results,
            "target": {
                "end_to_end_jobs_per_s": MEMORY_TARGET_JOBS_PER_S if has_target else None,
                "met": (e2e_rate >= MEMORY_TARGET_JOBS_PER_S) if has_target and e2e_rate else None,
            },
        }

    async def _realistic_phases(self) -> dict[str, Any]:
        """Drain and latency with the worker in its own process, then adds; the queue's defaults."""
        results: dict[str, Any] = {}
        timeout = self.params.timeout_s
        async with _handler_io(self.broker.url, self.params.io_url) as io_url:
            runs = []
            for run in range(self.params.repeat):
                gc.collect()
                runs.append(await asyncio.wait_for(self.realistic_drain(run, io_url), timeout))
            results["drain"] = _median_run(runs)
            gc.collect()
            results["latency_at_rate"] = await asyncio.wait_for(self.realistic_latency(io_url), timeout)
        gc.collect()
        results["add_single"] = await asyncio.wait_for(self.add_single(QueueDefaults()), timeout)
        gc.collect()
        results["add_bulk"] = await asyncio.wait_for(self.add_bulk(QueueDefaults()), timeout)
        return results

    async def _no_op_phases(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        timeout = self.params.timeout_s
        # Draining phases first: the add phases leave their jobs waiting, which would only add
        # garbage-collector work to the phases after them.
        runs = []
        for run in range(self.params.repeat):
            gc.collect()
            runs.append(await asyncio.wait_for(self.end_to_end(run), timeout))
        results["end_to_end"] = _median_run(runs)
        gc.collect()
        results["latency"] = await asyncio.wait_for(self.latency(), timeout)
        if self.params.cross_process:
            gc.collect()
            results["latency_cross_process"] = await asyncio.wait_for(self.latency_cross_process(), timeout)
        gc.collect()
        results["add_single"] = await asyncio.wait_for(self.add_single(), timeout)
        gc.collect()
        results["add_bulk"] = await asyncio.wait_for(self.add_bulk(), timeout)
        return results

    async def add_single(self, defaults: QueueDefaults | None = None) -> dict[str, Any]:
        queue = await self._queue("add-single", defaults)
        n = self.params.add_jobs
        begin = time.perf_counter()
        for i in range(n):
            await queue.add(NOOP_JOB, {"i": i})
        seconds = time.perf_counter() - begin
        await queue.close()
        return {"jobs": n, "seconds": round(seconds, 4), "jobs_per_s": _rate(n, seconds)}

    async def add_bulk(self, defaults: QueueDefaults | None = None) -> dict[str, Any]:
        queue = await self._queue("add-bulk", defaults)
        n, batch = self.params.bulk_jobs, self.params.bulk_batch
        begin = time.perf_counter()
        for start in range(0, n, batch):
            await queue.add_bulk([NewJob(NOOP_JOB, {"i": i}) for i in range(start, min(n, start + batch))])
        seconds = time.perf_counter() - begin
        await queue.close()
        return {"jobs": n, "batch_size": batch, "seconds": round(seconds, 4), "jobs_per_s": _rate(n, seconds)}

    async def end_to_end(self, run: int = 0) -> dict[str, Any]:
        """Fill a queue with N no-op jobs, then time one worker draining it to the last completion."""
        queue = await self._queue(f"e2e{run}")
        n = self.params.e2e_jobs
        for start in range(0, n, self.params.bulk_batch):
            end = min(n, start + self.params.bulk_batch)
            await queue.add_bulk([NewJob(NOOP_JOB, {"i": i}) for i in range(start, end)])
        handled = 0
        all_handled = asyncio.Event()

        async def noop(payload: Any, ctx: JobContext) -> None:
            nonlocal handled
            handled += 1
            if handled >= n:
                all_handled.set()

        options = WorkerOptions(
            concurrency=self.params.concurrency, prefetch=self.params.prefetch, block_ms=200
        )
        worker = Worker(queue, HandlerRegistry(self.job_types, {NOOP_JOB: noop}), options)
        begin = time.perf_counter()
        task = asyncio.create_task(worker.run())
        await all_handled.wait()
        await _wait_drained(queue, self.params.timeout_s)
        seconds = time.perf_counter() - begin
        await worker.stop()
        await task
        await queue.close()
        return {
            "jobs": n,
            "concurrency": self.params.concurrency,
            "prefetch": self.params.prefetch,
            "seconds": round(seconds, 4),
            "jobs_per_s": _rate(n, seconds),
            "succeeded": worker.metrics.succeeded,
            "failed": worker.metrics.failed,
        }

    async def latency(self) -> dict[str, Any]:
        """An idle worker; jobs added one at a time; latency = handler start - add call time."""
        queue = await self._queue("latency")
        n = self.params.latency_jobs
        samples: list[float] = []
        all_started = asyncio.Event()

        async def record(payload: Any, ctx: JobContext) -> None:
            samples.append((time.perf_counter_ns() - int(payload["t"])) / 1e6)
            if len(samples) >= n:
                all_started.set()

        worker = Worker(
            queue,
            HandlerRegistry(self.job_types, {NOOP_JOB: record}),
            WorkerOptions(concurrency=1, block_ms=1000),
        )
        task = asyncio.create_task(worker.run())
        await worker.wait_started()
        gap = self.params.latency_gap_ms / 1000
        for i in range(n):
            await queue.add(NOOP_JOB, {"i": i, "t": time.perf_counter_ns()})
            await asyncio.sleep(gap)
        await all_started.wait()
        await worker.stop()
        await task
        await queue.close()
        return self._latency_summary(samples)

    async def latency_cross_process(self) -> dict[str, Any] | None:
        """As ``latency``, with the idle worker in a child process (``bootstrap.bench_worker``).

        Latency = the child's handler start minus the wall-clock time just before the ``add`` call
        (``time.time_ns()``, one machine). None for ``memory://`` (its queues live in one process).
        """
        if self.broker.url.startswith("memory:"):
            return None
        queue = await self._queue("latency-xp")
        n = self.params.latency_jobs
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bootstrap.bench_worker",
            queue.name,
            str(n),
            str(self.params.timeout_s),
            env=self.worker_env,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert child.stdout is not None
            ready = await asyncio.wait_for(child.stdout.readline(), 60)
            if ready.strip() != WORKER_READY.encode():
                raise RuntimeError("the bench worker process did not start (see its stderr)")
            gap = self.params.latency_gap_ms / 1000
            for i in range(n):
                await queue.add(NOOP_JOB, {"i": i, "t_ns": time.time_ns()})
                await asyncio.sleep(gap)
            line = await child.stdout.readline()
            if await child.wait() != 0 or not line:
                raise RuntimeError("the bench worker process failed (see its stderr)")
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
            await queue.close()
        return self._latency_summary(json.loads(line)["latency_ms"])

    async def realistic_drain(self, run: int, io_url: str) -> dict[str, Any]:
        """Fill a queue (its default options), spawn a worker process, time it from the spawn."""
        queue = await self._queue(f"drain{run}", QueueDefaults())
        n = self.params.e2e_jobs
        try:
            for start in range(0, n, self.params.bulk_batch):
                end = min(n, start + self.params.bulk_batch)
                await queue.add_bulk([NewJob(NOOP_JOB, {"i": i}) for i in range(start, end)])
            if self.broker.url.startswith("memory:"):
                spawned_ns = time.time_ns()
                report = await self._work_in_process(queue, n, io_url)
                where = "in process"
            else:
                spawned_ns = time.time_ns()
                report = await self._work_in_child(queue.name, n, io_url, _no_producer)
                where = "child process"
        finally:
            await queue.close()
        first, drained = report["first_done_ns"], report["drained_ns"]
        in_child = where == "child process"
        return {
            "jobs": n,
            "worker": where,
            "concurrency": self.params.realistic_concurrency,
            "prefetch": self.params.prefetch,
            "handler_io": redact_url(io_url),
            "spawn_to_imported_s": _seconds(report["imported_ns"] - spawned_ns) if in_child else None,
            "spawn_to_ready_s": _seconds(report["ready_ns"] - spawned_ns),
            "spawn_to_first_job_s": _seconds(first - spawned_ns),
            "seconds": _seconds(drained - spawned_ns),
            "jobs_per_s": _rate(n, (drained - spawned_ns) / 1e9),
            "first_to_last_jobs_per_s": _rate(n - 1, (drained - first) / 1e9),
            "succeeded": report["succeeded"],
            "failed": report["failed"],
        }

    async def realistic_latency(self, io_url: str) -> dict[str, Any]:
        """A waiting worker process; jobs added at a fixed rate; latency = handler start - add time."""
        queue = await self._queue("latency-rate", QueueDefaults())
        n = self.params.latency_jobs
        gap_s = 1 / self.params.rate_per_s

        async def produce() -> None:
            begin = time.perf_counter()
            for i in range(n):
                await queue.add(NOOP_JOB, {"i": i, "t_ns": time.time_ns()})
                await asyncio.sleep(max(0.0, begin + (i + 1) * gap_s - time.perf_counter()))

        try:
            if self.broker.url.startswith("memory:"):
                worker = asyncio.create_task(self._work_in_process(queue, n, io_url))
                await asyncio.sleep(0.05)  # the worker waits for jobs before the first add
                await produce()
                report = await worker
            else:
                report = await self._work_in_child(queue.name, n, io_url, produce)
        finally:
            await queue.close()
        summary = self._latency_summary(report["latency_ms"])
        summary.pop("gap_ms")
        return {
            **summary,
            "rate_per_s": self.params.rate_per_s,
            "worker_concurrency": self.params.realistic_concurrency,
            "handler_io": redact_url(io_url),
        }

    def _realistic_options(self) -> WorkerOptions:
        return WorkerOptions(
            concurrency=self.params.realistic_concurrency, prefetch=self.params.prefetch, block_ms=1000
        )

    async def _work_in_process(self, queue: QueueBackend, jobs: int, io_url: str) -> dict[str, Any]:
        round_trip, close = await bench_worker.round_trips(io_url, self.params.realistic_concurrency)
        try:
            return await bench_worker.work(
                queue, jobs, self.params.timeout_s, self._realistic_options(), round_trip
            )
        finally:
            await close()

    async def _work_in_child(
        self, queue_name: str, jobs: int, io_url: str, produce: Callable[[], Awaitable[None]]
    ) -> dict[str, Any]:
        """Spawn ``bootstrap.bench_worker`` on the queue, run ``produce`` once it is ready, get its report."""
        options = self._realistic_options()
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bootstrap.bench_worker",
            queue_name,
            str(jobs),
            str(self.params.timeout_s),
            f"--concurrency={options.concurrency}",
            f"--prefetch={options.prefetch}",
            f"--block-ms={options.block_ms}",
            f"--io={io_url}",
            env=self.worker_env,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert child.stdout is not None
            ready = await asyncio.wait_for(child.stdout.readline(), 60)
            if ready.strip() != WORKER_READY.encode():
                raise RuntimeError("the bench worker process did not start (see its stderr)")
            await produce()
            line = await child.stdout.readline()
            if await child.wait() != 0 or not line:
                raise RuntimeError("the bench worker process failed (see its stderr)")
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        report: dict[str, Any] = json.loads(line)
        return report

    async def cold_start(self) -> dict[str, Any]:
        """A new producer's first add and a new worker's first job, behind a backlog (ADR 0028).

        The backlog is built here by single ``add`` calls (``cold_start_window`` in flight at
        once) through a handle that holds the queue, as a running worker would: it leads and
        snapshots as the log grows. Then a producer process and a worker process are spawned, one
        after the other, each timed from its spawn (``bootstrap.bench_cold``).
        """
        queue = await self._queue("cold")
        params = self.params
        try:
            await queue.get_stats()  # this handle holds the queue's state: it snapshots the backlog
            begin = time.perf_counter()
            window = params.cold_start_window
            total = params.cold_start_backlog
            for start in range(0, total, window):
                await asyncio.gather(
                    *(queue.add(NOOP_JOB, {"i": i}) for i in range(start, min(total, start + window)))
                )
            backlog_s = time.perf_counter() - begin
            waiting = (await queue.get_stats()).waiting
            producer = await self._cold_child("producer", queue.name, f"--adds={params.cold_start_adds}")
            worker = await self._cold_child("worker", queue.name, f"--timeout-s={params.timeout_s}")
        finally:
            await queue.close()
        adds_s = producer["adds_s"]
        return {
            "backlog": {"jobs": total, "waiting": waiting, "window": window, "seconds": round(backlog_s, 2)},
            "producer": {
                "first_add_from_spawn_s": _seconds(producer["first_add_ns"] - producer["spawned_ns"]),
                "first_add_from_import_s": _seconds(producer["first_add_ns"] - producer["imported_ns"]),
                "rss_mb": producer["rss_mb"],
                "replica_jobs": producer["replica_jobs"],
                "sequential_adds": producer["adds"],
                "sequential_adds_per_s": _rate(producer["adds"], adds_s),
            },
            "worker": {
                "first_job_from_spawn_s": _seconds(worker["first_started_ns"] - worker["spawned_ns"]),
                "first_job_from_import_s": _seconds(worker["first_started_ns"] - worker["imported_ns"]),
                "rss_mb": worker["rss_mb"],
                "replica_jobs": worker["replica_jobs"],
            },
        }

    async def _cold_child(self, role: str, queue_name: str, *args: str) -> dict[str, Any]:
        spawned_ns = time.time_ns()
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bootstrap.bench_cold",
            role,
            queue_name,
            *args,
            env=self.worker_env,
            stdout=asyncio.subprocess.PIPE,
        )
        stdout, _ = await child.communicate()
        if child.returncode != 0 or not stdout.strip():
            raise RuntimeError(f"the cold-start {role} process failed (see its stderr)")
        report: dict[str, Any] = json.loads(stdout)
        return {**report, "spawned_ns": spawned_ns}

    def _latency_summary(self, samples: list[float]) -> dict[str, Any]:
        ordered = sorted(samples)
        return {
            "jobs": len(ordered),
            "gap_ms": self.params.latency_gap_ms,
            "worker_concurrency": 1,
            "p50_ms": round(_percentile(ordered, 50), 3),
            "p95_ms": round(_percentile(ordered, 95), 3),
            "p99_ms": round(_percentile(ordered, 99), 3),
            "max_ms": round(ordered[-1], 3),
            "mean_ms": round(statistics.fmean(ordered), 3),
        }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate, plus every run's rate."""
    ordered = sorted(runs, key=lambda r: float(r["jobs_per_s"]))
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["runs_jobs_per_s"] = [r["jobs_per_s"] for r in runs]
    return median


def _percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of sorted samples."""
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def _no_producer() -> None:
    return None


@contextlib.asynccontextmanager
async def _handler_io(broker_url: str, io_url: str | None) -> AsyncIterator[str]:
    """The realistic handler's round trip: ``io_url``, else the broker if Redis, else an echo server here."""
    if io_url is not None:
        yield io_url
        return
    if broker_url.startswith(("redis://", "rediss://")):
        yield broker_url
        return

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                writer.write(line)
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"tcp://127.0.0.1:{port}"
    finally:
        server.close()


async def _wait_drained(queue: QueueBackend, timeout_s: float) -> None:
    """Poll until nothing is waiting, delayed or active (the last completion is stored)."""
    async with asyncio.timeout(timeout_s):
        while True:
            stats = await queue.get_stats()
            if stats.waiting == 0 and stats.active == 0 and stats.delayed == 0:
                return
            await asyncio.sleep(0.002)


async def run_benchmark(
    broker: Broker, params: BenchParameters, *, config_file: str | None = None, broker_url: str | None = None
) -> dict[str, Any]:
    try:
        return await Benchmark(broker, params, config_file=config_file, broker_url=broker_url).run()
    finally:
        await broker.close()
