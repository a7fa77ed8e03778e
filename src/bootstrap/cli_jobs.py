"""``backbone jobs QUEUE --state S`` and ``backbone job logs QUEUE JOB_ID`` (ADR 0026).

Listing pages through the jobs of one state (``IGenericQueue.list_jobs``); the log command shows
the lines handlers stored with ``ctx.log`` (``get_job_logs``). Tables show times as ISO 8601 (UTC)
with a relative hint; ``--json`` prints epoch milliseconds as stored.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from application.queue_arguments import LISTABLE_STATES
from bootstrap import commands
from bootstrap.render import iso_time, job_dict, table, to_json
from domain.queue.job import Job, JobState

if TYPE_CHECKING:
    from bootstrap.container import Container
    from bootstrap.queues import QueueHandles

LOGS_WORD = "logs"  # ``backbone job logs QUEUE JOB_ID``
DEFAULT_LIMIT = 50


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """The ``jobs`` command, on the CLI's subparsers."""
    p = sub.add_parser("jobs", help="list the jobs of one state, a page at a time", parents=[common])
    p.set_defaults(run=cmd_jobs)
    p.add_argument("queue", help="queue name")
    p.add_argument(
        "--state",
        required=True,
        choices=[state.value for state in LISTABLE_STATES],
        help="waiting (claim order), delayed (by due time), active (latest started first), "
        "completed or failed (newest first)",
    )
    p.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help=f"jobs per page (default {DEFAULT_LIMIT})"
    )
    p.add_argument("--offset", type=int, default=0, help="jobs to skip (default 0)")


def readable_time(epoch_ms: int | None, now_ms: int) -> str:
    """``2026-12-03T16:30:55Z (5m ago)``; empty for no time."""
    if epoch_ms is None:
        return ""
    return f"{iso_time(epoch_ms)} ({_relative(epoch_ms - now_ms)})"


def _relative(delta_ms: int) -> str:
    seconds = abs(delta_ms) // 1000
    if seconds < 1:
        return "now"
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            amount = f"{seconds // size}{unit}"
            return f"in {amount}" if delta_ms > 0 else f"{amount} ago"
    return "now"  # not reached: seconds >= 1 matches "s"


def _when(job: Job, state: JobState) -> tuple[str, int | None]:
    if state is JobState.WAITING:
        return "created", job.created_at
    if state is JobState.DELAYED:
        return "due", job.due_at
    if state is JobState.ACTIVE:
        return "started", job.processed_on
    return "finished", job.finished_on


async def cmd_jobs(args: argparse.Namespace, container: Container) -> int:
    handles: QueueHandles = container.queues()
    state = JobState(args.state)
    jobs = await handles.handle(args.queue).list_jobs(state, args.limit, args.offset)
    if args.json:
        commands.out(to_json([job_dict(job) for job in jobs]))
        return commands.EXIT_OK
    if not jobs:
        commands.out(f"no {state.value} jobs on {args.queue} (offset {args.offset})")
        return commands.EXIT_OK
    now = time.time_ns() // 1_000_000
    label = _when(jobs[0], state)[0]
    headers = ["job_id", "name", "priority", "attempts", label]
    if state is JobState.FAILED:
        headers.append("reason")
    rows = []
    for job in jobs:
        row: list[object] = [
            job.id,
            job.name,
            job.priority,
            f"{job.attempts_made}/{job.options.attempts}",
            readable_time(_when(job, state)[1], now),
        ]
        if state is JobState.FAILED:
            row.append((job.failed_reason or "")[:60])
        rows.append(row)
    commands.out(table(headers, rows))
    return commands.EXIT_OK


async def cmd_job(args: argparse.Namespace, container: Container) -> int:
    """``job QUEUE JOB_ID`` shows the job; ``job logs QUEUE JOB_ID`` shows its log lines."""
    if args.queue != LOGS_WORD or args.logs_job_id is None:
        if args.logs_job_id is not None:
            from bootstrap.settings import SettingsError

            raise SettingsError(
                "job", f"unexpected argument {args.logs_job_id!r} (job QUEUE JOB_ID | job logs QUEUE JOB_ID)"
            )
        return await commands.cmd_job(args, container)
    queue, job_id = args.job_id, args.logs_job_id
    handles: QueueHandles = container.queues()
    lines = await handles.handle(queue).get_job_logs(job_id)
    if lines is None:
        from domain.queue.errors import QueueError

        raise QueueError(f"job {job_id} not found on queue {queue}")
    if args.json:
        commands.out(to_json({"queue": queue, "job_id": job_id, "lines": lines}))
        return commands.EXIT_OK
    if not lines:
        commands.out(f"job {job_id} on {queue} has no log lines")
        return commands.EXIT_OK
    now = time.time_ns() // 1_000_000
    for line in lines:
        commands.out(f"{readable_time(line.at, now)}  {line.text}")
    return commands.EXIT_OK
