"""The CLI's operator commands (async): worker, enqueue, stats, job, dlq, pause/resume, clean, health.

Each takes the parsed arguments and the container and returns the process exit code. Output goes
to ``sys.stdout`` (looked up at call time).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from application.worker import Worker
from bootstrap.container import Container
from bootstrap.health import check_health
from bootstrap.probes import WorkerProbes
from bootstrap.queues import QueueHandles
from bootstrap.render import dead_letter_dict, job_dict, stats_dict, table, to_json
from bootstrap.scheduling import ScheduleRow, build_scheduler
from bootstrap.settings import SettingsError
from bootstrap.tracing_setup import enable_tracing
from bootstrap.wiring import WorkerFactory
from bootstrap.worker_presence import worker_presence
from domain.queue.job import DeadLetterFilter, JobState
from domain.queue.metadata import JobMetadata, UserRef, current_correlation_id
from domain.queue.options import JobOptions

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BROKER = 3
SCHEDULER_STOP_TIMEOUT_S = 15.0  # its one wait in flight is an add bounded by 10 s


def out(text: str) -> None:
    print(text, file=sys.stdout, flush=True)


def _handles(container: Container) -> QueueHandles:
    handles: QueueHandles = container.queues()
    return handles


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGTERM/SIGINT call ``stop`` on the running loop (only possible on the main thread)."""
    loop = asyncio.get_running_loop()
    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            before = signal.getsignal(sig)
            loop.add_signal_handler(sig, stop)
            previous[sig] = before
        except (NotImplementedError, RuntimeError, ValueError):
            logger.debug("cannot install a handler for %s here", sig.name)
    try:
        yield
    finally:
        for sig, before in previous.items():
            loop.remove_signal_handler(sig)
            if before is not None:  # remove_signal_handler resets to the default, not to ``before``
                signal.signal(sig, before)


async def run_workers(
    workers: list[Worker], run_for_ms: int | None = None, on_started: Callable[[], None] | None = None
) -> None:
    """Run every worker until SIGTERM/SIGINT (or ``run_for_ms``), then stop them all gracefully.

    ``on_started`` runs once the signal handlers are installed and every worker is claiming.
    """
    stopping = asyncio.Event()

    def stop() -> None:
        if not stopping.is_set():
            logger.info("stop requested: finishing active jobs of %d workers", len(workers))
        stopping.set()
        for worker in workers:
            worker.request_stop()

    def on_signal() -> None:
        if not stopping.is_set():
            stop()
            return
        logger.warning("second stop signal: cancelling the active jobs of %d workers now", len(workers))
        for worker in workers:
            worker.request_stop(grace_ms=0)  # cancelled jobs are handed back for another worker

    with stop_on_signals(on_signal):
        tasks = [asyncio.create_task(worker.run(), name=f"worker:{worker.queue}") for worker in workers]
        for worker in workers:
            await worker.wait_started()
        if on_started is not None:
            on_started()
        if run_for_ms is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), run_for_ms / 1000)
            stop()
        await asyncio.gather(*tasks)


async def cmd_worker(args: argparse.Namespace, container: Container) -> int:
    tracing = enable_tracing(container, args.tracing)  # before any queue or worker is built (ADR 0025)
    factory: WorkerFactory = container.workers()
    probes = WorkerProbes.from_settings(container.settings().worker, args.metrics_port, _handles(container))
    if probes is not None:  # /metrics, /healthz, /readyz (docs/operations.md)
        factory = probes.instrument(factory)
    presence = worker_presence(container.settings().worker, _handles(container))
    if presence is not None:  # heartbeats for `backbone workers` (ADR 0025)
        factory = WorkerFactory(
            factory.queues, factory.handlers, factory.settings, (*factory.hooks, presence.hook)
        )
    handled = factory.handlers.handled_queues()
    queues = list(dict.fromkeys(args.queues)) or handled
    for name in queues:  # every queue is checked before any worker connects
        factory.handlers.check_handled(name)
    workers = []
    for name in queues:
        workers.append(
            await factory.build(
                name,
                concurrency=args.concurrency,
                prefetch=args.prefetch,
                lease_ms=args.lease_ms,
                shutdown_grace_ms=args.shutdown_grace_ms,
            )
        )

    def announce() -> None:
        for worker in workers:
            out(
                f"worker {worker.options.worker_id} queue={worker.queue} "
                f"concurrency={worker.options.concurrency} jobs={','.join(worker.registry.names()) or '-'}"
            )

    rows: tuple[ScheduleRow, ...] = container.schedules()
    scheduler = build_scheduler(rows, queues, _handles(container), container.clock())
    scheduling = asyncio.create_task(scheduler.run(), name="scheduler")  # ADR 0020: in every worker
    try:
        async with contextlib.AsyncExitStack() as running:
            if probes is not None:
                await running.enter_async_context(probes.serving(workers))
            if presence is not None:
                await running.enter_async_context(presence.publishing(workers))
            await run_workers(workers, args.run_for_ms, announce)
    finally:
        scheduler.request_stop()
        await asyncio.wait_for(scheduling, SCHEDULER_STOP_TIMEOUT_S)
        if tracing is not None:
            await asyncio.to_thread(tracing.shutdown)  # exports the spans still buffered
    for worker in workers:
        m = worker.metrics
        out(
            f"stopped queue={worker.queue} succeeded={m.succeeded} failed={m.failed} "
            f"dead_lettered={m.dead_lettered}"
        )
    return EXIT_OK


def _json_argument(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError("--data", f"must be valid JSON ({exc.msg} at position {exc.pos})") from None


async def cmd_enqueue(args: argparse.Namespace, container: Container) -> int:
    data = _json_argument(args.data)
    options = JobOptions(
        delay=args.delay,
        attempts=args.attempts,
        priority=args.priority,
        job_id=args.job_id,
        idempotency_key=args.idempotency_key,
    )
    metadata = JobMetadata(
        correlation_id=args.correlation_id,
        tenant_id=args.tenant,
        user=UserRef.system(args.tenant),
        source="backbone-cli",
    )
    token = current_correlation_id.set(args.correlation_id)
    try:
        job = await _handles(container).handle(args.queue).add(args.name, data, options, metadata)
    finally:
        current_correlation_id.reset(token)
    out(to_json(job_dict(job)))
    return EXIT_OK


def _queue_names(args: argparse.Namespace, container: Container) -> list[str]:
    if args.queues:
        return list(args.queues)
    return _handles(container).topology.names()


async def cmd_stats(args: argparse.Namespace, container: Container) -> int:
    handles = _handles(container)
    rows = []
    result = {}
    for name in _queue_names(args, container):
        stats = await handles.handle(name).get_stats()
        result[name] = stats_dict(stats)
        rows.append(
            (name, stats.waiting, stats.delayed, stats.active, stats.completed, stats.failed, stats.paused)
        )
    if args.json:
        out(to_json(result))
    else:
        out(table(("queue", "waiting", "delayed", "active", "completed", "failed", "paused"), rows))
    return EXIT_OK


async def cmd_job(args: argparse.Namespace, container: Container) -> int:
    job = await _handles(container).handle(args.queue).get_job(args.job_id)
    if job is None:
        out(f"job {args.job_id} not found on queue {args.queue}")
        return EXIT_FAILED
    out(to_json(job_dict(job)))
    return EXIT_OK


async def cmd_dlq(args: argparse.Namespace, container: Container) -> int:
    queue = _handles(container).handle(args.queue)
    if args.dlq_command == "list":
        letters = await queue.list_dead_letters(args.limit, args.offset)
        if args.json:
            out(to_json([dead_letter_dict(letter) for letter in letters]))
        else:
            rows = [
                (dl.job_id, dl.name, dl.attempts_made, dl.failed_at, dl.reason[:60], dl.correlation_id)
                for dl in letters
            ]
            out(table(("job_id", "name", "attempts", "failed_at", "reason", "correlation_id"), rows))
        return EXIT_OK
    if args.dlq_command == "reprocess":
        if args.all:
            count = await queue.reprocess_dead_letters(DeadLetterFilter(name=args.name))
            out(f"reprocessed {count} dead letters of {args.queue}")
            return EXIT_OK
        if args.job_id is None:
            raise SettingsError("dlq reprocess", "needs a job id or --all")
        done = await queue.reprocess_dead_letter(args.job_id)
        out(f"{'reprocessed' if done else 'not a dead letter:'} {args.job_id}")
        return EXIT_OK if done else EXIT_FAILED
    count = await queue.purge_dead_letters(args.older_than_ms)
    out(f"purged {count} dead letters of {args.queue}")
    return EXIT_OK


async def cmd_pause(args: argparse.Namespace, container: Container) -> int:
    queue = _handles(container).handle(args.queue)
    if args.command == "pause":
        await queue.pause()
    else:
        await queue.resume()
    out(f"{args.queue} {'paused' if await queue.is_paused() else 'running'}")
    return EXIT_OK


async def cmd_clean(args: argparse.Namespace, container: Container) -> int:
    count = (
        await _handles(container).handle(args.queue).clean(args.grace_ms, JobState(args.state), args.limit)
    )
    out(f"removed {count} {args.state} jobs from {args.queue}")
    return EXIT_OK


async def cmd_health(args: argparse.Namespace, container: Container) -> int:
    report = await check_health(_handles(container), _queue_names(args, container), args.timeout_ms / 1000)
    if args.json:
        out(to_json([entry.as_dict() for entry in report]))
    else:
        rows = []
        for entry in report:
            s = entry.stats
            rate = entry.failure_rate
            rows.append(
                (
                    entry.queue,
                    "up" if entry.up else "down",
                    s.waiting if s else "-",
                    s.delayed if s else "-",
                    s.active if s else "-",
                    s.completed if s else "-",
                    s.failed if s else "-",
                    "-" if rate is None else f"{rate:.1%}",
                    entry.error or "",
                )
            )
        headers = (
            "queue",
            "status",
            "waiting",
            "delayed",
            "active",
            "completed",
            "failed",
            "fail_rate",
            "error",
        )
        out(table(headers, rows))
    return EXIT_OK if all(entry.up for entry in report) else EXIT_FAILED


async def cmd_schedules(args: argparse.Namespace, container: Container) -> int:
    """``schedules list``: the enabled modules' schedules and their next fire times (no broker)."""
    if not 1 <= args.next <= 100:
        raise SettingsError("--next", f"must be in 1..100 (got {args.next})")
    rows: tuple[ScheduleRow, ...] = container.schedules()
    now = container.clock()()
    result = []
    for row in rows:
        schedule = row.timetable.schedule
        upcoming = row.timetable.upcoming(now, args.next)
        result.append(
            {
                "name": schedule.name,
                "module": row.module,
                "queue": row.queue,
                "job": schedule.job,
                "timetable": schedule.cron if schedule.cron is not None else f"every {schedule.every_ms} ms",
                "timezone": schedule.timezone,
                "next": [_iso(slot) for slot in upcoming],
            }
        )
    if args.json:
        out(to_json(result))
    else:
        table_rows = [
            (r["name"], r["queue"], r["job"], r["timetable"], r["timezone"], ", ".join(r["next"]) or "ended")
            for r in result
        ]
        out(table(("schedule", "queue", "job", "timetable", "timezone", "next fire (UTC)"), table_rows))
    return EXIT_OK


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
