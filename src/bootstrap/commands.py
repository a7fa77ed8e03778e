"""The CLI's operator commands: worker, enqueue, stats, job, remove, drain, queues, dlq,
pause/resume, clean, health; ``register`` adds their parsers (see ``bootstrap.cli``).

Each command takes the parsed arguments and the container and returns the process exit code.
Output goes to ``sys.stdout`` (looked up at call time): a table (times as ISO 8601 and relative)
or, with ``--json``, one JSON document whose shape depends only on the kind of output
(``docs/cli.md``). Admin actions go through the queue handles, so the admin hooks see them.
Imports beyond the standard library happen inside the commands (ADR 0027).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from bootstrap.cli_common import (
    EXIT_BROKER,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    handles,
    known_queue,
    out,
)

if TYPE_CHECKING:
    from application.worker import Worker
    from bootstrap.container import Container

__all__ = ["EXIT_BROKER", "EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "out", "register", "run_workers"]

logger = logging.getLogger(__name__)

SCHEDULER_STOP_TIMEOUT_S = 15.0  # its one wait in flight is an add bounded by 10 s
CLEAN_BATCH = 500  # jobs per clean call when cleaning with a progress bar
REPROCESS_BATCH = 500  # dead letters per reprocess call with --all


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


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
    from bootstrap.probes import WorkerProbes
    from bootstrap.scheduling import ScheduleRow, build_scheduler
    from bootstrap.tracing_setup import enable_tracing
    from bootstrap.wiring import WorkerFactory
    from bootstrap.worker_presence import worker_presence

    tracing = enable_tracing(container, args.tracing)  # before any queue or worker is built (ADR 0025)
    factory: WorkerFactory = container.workers()
    probes = WorkerProbes.from_settings(container.settings().worker, args.metrics_port, handles(container))
    if probes is not None:  # /metrics, /healthz, /readyz (docs/operations.md)
        factory = probes.instrument(factory)
    presence = worker_presence(container.settings().worker, handles(container))
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
            jobs = worker.registry.names()
            if args.json:
                line = {
                    "event": "started",
                    "worker_id": worker.options.worker_id,
                    "queue": worker.queue,
                    "concurrency": worker.options.concurrency,
                    "jobs": list(jobs),
                }
                out(json.dumps(line))
            else:
                out(
                    f"worker {worker.options.worker_id} queue={worker.queue} "
                    f"concurrency={worker.options.concurrency} jobs={','.join(jobs) or '-'}"
                )

    rows: tuple[ScheduleRow, ...] = container.schedules()
    scheduler = build_scheduler(rows, queues, handles(container), container.clock())
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
        if args.json:
            line = {
                "event": "stopped",
                "queue": worker.queue,
                "succeeded": m.succeeded,
                "failed": m.failed,
                "dead_lettered": m.dead_lettered,
            }
            out(json.dumps(line))
        else:
            out(
                f"stopped queue={worker.queue} succeeded={m.succeeded} failed={m.failed} "
                f"dead_lettered={m.dead_lettered}"
            )
    return EXIT_OK


def _json_argument(text: str) -> Any:
    from bootstrap.settings import SettingsError

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError("--data", f"must be valid JSON ({exc.msg} at position {exc.pos})") from None


async def cmd_enqueue(args: argparse.Namespace, container: Container) -> int:
    from bootstrap.render import job_dict, to_json
    from domain.queue.metadata import JobMetadata, UserRef, current_correlation_id
    from domain.queue.options import JobOptions

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
        job = await handles(container).handle(args.queue).add(args.name, data, options, metadata)
    finally:
        current_correlation_id.reset(token)
    out(to_json(job_dict(job)))
    return EXIT_OK


async def _queue_names(args: argparse.Namespace, container: Container) -> list[str]:
    """The queues named on the command line (each checked), else every configured queue."""
    if args.queues:
        names = list(dict.fromkeys(args.queues))
        for name in names:
            await known_queue(container, name)
        return names
    return handles(container).topology.names()


async def cmd_stats(args: argparse.Namespace, container: Container) -> int:
    from bootstrap.render import queue_stats_dict, table, to_json

    queues = handles(container)
    rows = []
    result = []
    for name in await _queue_names(args, container):
        stats = await queues.handle(name).get_stats()
        result.append(queue_stats_dict(name, stats))
        rows.append(
            (name, stats.waiting, stats.delayed, stats.active, stats.completed, stats.failed, stats.paused)
        )
    if args.json:
        out(to_json(result))
    else:
        out(table(("queue", "waiting", "delayed", "active", "completed", "failed", "paused"), rows))
    return EXIT_OK


async def cmd_queues(args: argparse.Namespace, container: Container) -> int:
    """Every queue on the broker and every configured one, whether each is configured / on the broker."""
    from bootstrap.render import table, to_json

    queues = handles(container)
    configured = set(queues.topology.names())
    on_broker = set(await queues.broker.list_queues())
    result = [
        {"queue": name, "configured": name in configured, "on_broker": name in on_broker}
        for name in sorted(configured | on_broker)
    ]
    if args.json:
        out(to_json(result))
    else:
        rows = [
            (r["queue"], "yes" if r["configured"] else "no", "yes" if r["on_broker"] else "no")
            for r in result
        ]
        out(table(("queue", "configured", "on_broker"), rows))
    return EXIT_OK


async def _cmd_job_or_logs(args: argparse.Namespace, container: Container) -> int:
    from bootstrap.cli_jobs import cmd_job as job_or_logs

    return await job_or_logs(args, container)


async def cmd_job(args: argparse.Namespace, container: Container) -> int:
    from bootstrap.render import job_dict, to_json

    job = await (await known_queue(container, args.queue)).get_job(args.job_id)
    if job is None:
        from domain.queue.errors import QueueError

        raise QueueError(f"job {args.job_id} not found on queue {args.queue}")
    out(to_json(job_dict(job)))
    return EXIT_OK


def _action_out(args: argparse.Namespace, action: str, text: str, **values: Any) -> None:
    from bootstrap.render import action_dict, to_json

    out(to_json(action_dict(action, args.queue, **values)) if args.json else text)


async def cmd_remove(args: argparse.Namespace, container: Container) -> int:
    from domain.queue.errors import QueueError

    queue = await known_queue(container, args.queue)
    if await queue.remove_job(args.job_id):
        _action_out(args, "remove", f"removed {args.job_id} from {args.queue}", job_id=args.job_id, count=1)
        return EXIT_OK
    job = await queue.get_job(args.job_id)
    why = "not found" if job is None else f"is {job.state.value} (an active job is not removed)"
    raise QueueError(f"job {args.job_id} on queue {args.queue} {why}")


def _confirm(args: argparse.Namespace, question: str) -> bool:
    """``--yes``, or a ``y`` typed at a terminal; without a terminal the answer is no."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        return False
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


async def cmd_drain(args: argparse.Namespace, container: Container) -> int:
    from bootstrap.progress import progress
    from bootstrap.settings import SettingsError

    queue = await known_queue(container, args.queue)
    stats = await queue.get_stats()
    pending = stats.waiting + stats.delayed
    question = f"delete {pending} waiting and delayed jobs of {args.queue}?"
    if pending and not _confirm(args, question):
        raise SettingsError("drain", "not confirmed: pass --yes (or answer y at a terminal)")
    with progress(f"draining {args.queue}", None, enabled=not args.json):
        count = await queue.drain()
    _action_out(args, "drain", f"drained {count} waiting and delayed jobs from {args.queue}", count=count)
    return EXIT_OK


async def cmd_dlq_list(args: argparse.Namespace, container: Container) -> int:
    from bootstrap.render import dead_letter_dict, table, to_json, when

    letters = await (await known_queue(container, args.queue)).list_dead_letters(args.limit, args.offset)
    if args.json:
        out(to_json([dead_letter_dict(letter) for letter in letters]))
        return EXIT_OK
    now = _now_ms()
    rows = [
        (dl.job_id, dl.name, dl.attempts_made, when(dl.failed_at, now), dl.reason[:60], dl.correlation_id)
        for dl in letters
    ]
    out(table(("job_id", "name", "attempts", "failed_at", "reason", "correlation_id"), rows))
    return EXIT_OK


async def cmd_dlq_reprocess(args: argparse.Namespace, container: Container) -> int:
    from bootstrap.settings import SettingsError

    queue = await known_queue(container, args.queue)
    if args.all:
        count = await _reprocess_all(args, queue)
        _action_out(args, "dlq.reprocess", f"reprocessed {count} dead letters of {args.queue}", count=count)
        return EXIT_OK
    if args.job_id is None:
        raise SettingsError("dlq reprocess", "needs a job id or --all")
    if await queue.reprocess_dead_letter(args.job_id):
        text = f"reprocessed {args.job_id}"
        _action_out(args, "dlq.reprocess", text, job_id=args.job_id, count=1)
        return EXIT_OK
    from domain.queue.errors import QueueError

    raise QueueError(f"job {args.job_id} is not a dead letter of queue {args.queue}")


async def _reprocess_all(args: argparse.Namespace, queue: Any) -> int:
    """Every matching dead letter, in batches of ids so that a bar shows how far it got."""
    from bootstrap.progress import progress
    from domain.queue.job import DeadLetterFilter

    ids: list[str] = []
    offset = 0
    while True:
        page = await queue.list_dead_letters(1000, offset)
        ids.extend(dl.job_id for dl in page if args.name is None or dl.name == args.name)
        if len(page) < 1000:
            break
        offset += len(page)
    if not ids:  # nothing listed: one call still, so the action is done (and recorded) as asked
        return int(await queue.reprocess_dead_letters(DeadLetterFilter(name=args.name)))
    done = 0
    with progress(f"reprocessing dead letters of {args.queue}", len(ids), enabled=not args.json) as advance:
        for start in range(0, len(ids), REPROCESS_BATCH):
            chunk = frozenset(ids[start : start + REPROCESS_BATCH])
            done += int(await queue.reprocess_dead_letters(DeadLetterFilter(name=args.name, job_ids=chunk)))
            advance(start + len(chunk))
    return done


async def cmd_dlq_purge(args: argparse.Namespace, container: Container) -> int:
    from bootstrap.progress import progress

    queue = await known_queue(container, args.queue)
    with progress(f"purging dead letters of {args.queue}", None, enabled=not args.json):
        count = await queue.purge_dead_letters(args.older_than_ms)
    _action_out(args, "dlq.purge", f"purged {count} dead letters of {args.queue}", count=count)
    return EXIT_OK


async def cmd_pause(args: argparse.Namespace, container: Container) -> int:
    queue = await known_queue(container, args.queue)
    if args.command == "pause":
        await queue.pause()
    else:
        await queue.resume()
    state = "paused" if await queue.is_paused() else "running"
    _action_out(args, args.command, f"{args.queue} {state}")
    return EXIT_OK


async def cmd_clean(args: argparse.Namespace, container: Container) -> int:
    """Up to ``--limit`` finished jobs, in batches so that a bar shows how far it got."""
    from bootstrap.progress import progress
    from domain.queue.job import JobState

    queue = await known_queue(container, args.queue)
    state = JobState(args.state)
    stats = await queue.get_stats()
    total = min(args.limit, stats.completed if state is JobState.COMPLETED else stats.failed)
    count = 0
    with progress(f"cleaning {args.state} jobs of {args.queue}", total, enabled=not args.json) as advance:
        while count < args.limit:
            batch = min(CLEAN_BATCH, args.limit - count)
            removed = await queue.clean(args.grace_ms, state, batch)
            count += removed
            advance(count)
            if removed < batch:
                break
    _action_out(args, "clean", f"removed {count} {args.state} jobs from {args.queue}", count=count)
    return EXIT_OK


async def cmd_health(args: argparse.Namespace, container: Container) -> int:
    from bootstrap.health import check_health
    from bootstrap.render import table, to_json

    names = await _health_names(args, container)
    report = await check_health(handles(container), names, args.timeout_ms / 1000)
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


async def _health_names(args: argparse.Namespace, container: Container) -> list[str]:
    """Health must answer while the broker is down: only configured names are checked offline."""
    names = list(dict.fromkeys(args.queues)) or handles(container).topology.names()
    topology = handles(container).topology
    unknown = [name for name in names if name not in topology]
    for name in unknown:
        await known_queue(container, name)
    return names


# --- the parsers ------------------------------------------------------------------------------------


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the operator commands to the ``backbone`` subparsers (see ``bootstrap.cli``)."""

    def command(name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, parents=[common])
        parser.set_defaults(run=run)
        return parser

    p = command("worker", "run workers for queues until SIGTERM/SIGINT", cmd_worker)
    p.add_argument(
        "queues",
        nargs="*",
        metavar="QUEUE",
        help="queues to work (default: every queue the enabled modules handle)",
    )
    p.add_argument("--concurrency", type=int, help="jobs run at once per queue (default: worker.concurrency)")
    p.add_argument("--prefetch", type=int, help="jobs claimed ahead per queue (default: worker.prefetch)")
    p.add_argument("--lease-ms", type=int, help="lease length of a claimed job (default: worker.lease_ms)")
    p.add_argument(
        "--shutdown-grace-ms",
        type=int,
        help="on SIGTERM, how long active jobs may finish (default: worker.shutdown_grace_ms)",
    )
    p.add_argument("--run-for-ms", type=int, help="stop by itself after this long")
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="N",
        help="serve /metrics, /healthz and /readyz on this port (default: worker.metrics_port; off)",
    )
    p.add_argument(
        "--tracing",
        action="store_true",
        help="OpenTelemetry spans (the otel extra), exporters from OTEL_* (default: worker.tracing)",
    )

    p = command("enqueue", "add one job and print it as JSON", cmd_enqueue)
    p.add_argument("queue", help="queue name")
    p.add_argument("name", help="job name, e.g. transaction.settlement.v1")
    p.add_argument("--data", required=True, help="payload as JSON")
    p.add_argument("--priority", type=int, default=5, help="1 highest .. 10 lowest (default 5)")
    p.add_argument(
        "--delay", type=int, default=0, metavar="MS", help="run no earlier than this many ms from now"
    )
    p.add_argument("--attempts", type=int, help="attempts before dead-lettering (default: the job type's)")
    p.add_argument("--job-id", help="the job id (default: generated); an existing id is not added twice")
    p.add_argument("--idempotency-key", help="a second add with this key returns the first job")
    p.add_argument("--correlation-id", help="correlation id stored in the metadata and logged")
    p.add_argument("--tenant", help="tenant id stored in the metadata")

    p = command("stats", "counts per state", cmd_stats)
    p.add_argument(
        "queues", nargs="*", metavar="QUEUE", help="queues to count (default: every configured queue)"
    )

    p = command("queues", "the queues on the broker and the configured ones", cmd_queues)

    p = command("job", "show one job as JSON; `job logs QUEUE JOB_ID`: its ctx.log lines", _cmd_job_or_logs)
    p.add_argument("queue", metavar="QUEUE | logs", help="queue name (or `logs`, then QUEUE JOB_ID)")
    p.add_argument("job_id", metavar="JOB_ID | QUEUE", help="job id (after `logs`: the queue)")
    p.add_argument("logs_job_id", nargs="?", metavar="JOB_ID", help="after `logs QUEUE`: the job")

    p = command("remove", "delete one job that is not active", cmd_remove)
    p.add_argument("queue", help="queue name")
    p.add_argument("job_id", help="job id")

    p = command("drain", "delete every waiting and delayed job of a queue", cmd_drain)
    p.add_argument("queue", help="queue name")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    p = command("dlq", "dead letters", None)
    dlq = p.add_subparsers(dest="dlq_command", required=True, parser_class=type(p), metavar="ACTION")
    d = dlq.add_parser("list", parents=[common], help="dead letters, newest first")
    d.set_defaults(run=cmd_dlq_list)
    d.add_argument("queue", help="queue name")
    d.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    d.add_argument("--offset", type=int, default=0, help="skip this many newest first (default 0)")
    d = dlq.add_parser("reprocess", parents=[common], help="put dead letters back to waiting")
    d.set_defaults(run=cmd_dlq_reprocess)
    d.add_argument("queue", help="queue name")
    d.add_argument("job_id", nargs="?", help="the dead letter to reprocess (or --all)")
    d.add_argument("--all", action="store_true", help="every dead letter of the queue (with a progress bar)")
    d.add_argument("--name", help="with --all: only dead letters of this job name")
    d = dlq.add_parser("purge", parents=[common], help="delete old dead letters")
    d.set_defaults(run=cmd_dlq_purge)
    d.add_argument("queue", help="queue name")
    d.add_argument(
        "--older-than-ms", type=int, required=True, help="only those that failed longer ago than this"
    )

    for name in ("pause", "resume"):
        p = command(name, f"{name} a queue", cmd_pause)
        p.add_argument("queue", help="queue name")

    p = command("clean", "remove finished jobs older than a grace period", cmd_clean)
    p.add_argument("queue", help="queue name")
    p.add_argument("--state", required=True, choices=["completed", "failed"], help="which finished jobs")
    p.add_argument("--grace-ms", type=int, required=True, help="keep jobs finished less than this long ago")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")

    p = command(
        "health", "per-queue up/down, counts and failure rate (exit 1 when a queue is down)", cmd_health
    )
    p.add_argument(
        "queues", nargs="*", metavar="QUEUE", help="queues to check (default: every configured queue)"
    )
    p.add_argument("--timeout-ms", type=int, default=5000, help="a queue not answering in time is down")
