"""``backbone workers``: the live workers on the broker, from their heartbeats (ADR 0025).

A worker is listed until ``HEARTBEAT_MISSES`` heartbeat intervals after its last heartbeat (15 s
with the default ``worker.heartbeat_interval_ms`` of 5 s); one that stopped cleanly is gone at once.
``--json`` prints a JSON array, one object per worker (the heartbeat, times as epoch ms plus ISO 8601).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from application.presence.registry import WorkerHeartbeat
from bootstrap.commands import EXIT_OK, out
from bootstrap.render import iso_time, table, to_json
from bootstrap.worker_registries import worker_registry

if TYPE_CHECKING:
    from bootstrap.container import Container
    from bootstrap.queues import QueueHandles

ACTIVE_IN_TABLE = 3  # job ids shown per worker in the table (all of them with --json)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """``backbone workers`` (``--json``: a JSON array, one object per live worker, its heartbeat)."""
    p = sub.add_parser(
        "workers", help="the live workers on the broker, from their heartbeats", parents=[common]
    )
    p.set_defaults(run=cmd_workers)


def _ago(ms: int, now_ms: int) -> str:
    seconds = max(0, now_ms - ms) // 1000
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"


def worker_dict(beat: WorkerHeartbeat) -> dict[str, Any]:
    entry = beat.as_dict()
    entry["started_at_iso"] = iso_time(beat.started_at)
    entry["beat_at_iso"] = iso_time(beat.beat_at)
    entry["expires_at"] = beat.expires_at
    return entry


def _active(beat: WorkerHeartbeat) -> str:
    shown = [f"{job.queue}/{job.job_id}" for job in beat.active_jobs[:ACTIVE_IN_TABLE]]
    more = beat.active_count - len(shown)
    return ", ".join(shown) + (f" (+{more})" if more > 0 else "") or "-"


async def cmd_workers(args: argparse.Namespace, container: Container) -> int:
    handles: QueueHandles = container.queues()
    registry = worker_registry(handles.broker)
    try:
        beats = await registry.live()
    finally:
        await registry.close()
    if args.json:
        out(to_json([worker_dict(beat) for beat in beats]))
        return EXIT_OK
    now = handles.broker.clock()
    rows = [
        (
            beat.worker_id,
            beat.host,
            beat.pid,
            ",".join(queue.name for queue in beat.queues) or "-",
            beat.concurrency,
            beat.active_count,
            _active(beat),
            f"{iso_time(beat.started_at)} ({_ago(beat.started_at, now)})",
            _ago(beat.beat_at, now),
            beat.version,
        )
        for beat in beats
    ]
    headers = (
        "worker",
        "host",
        "pid",
        "queues",
        "concurrency",
        "active",
        "active jobs",
        "started",
        "last beat",
        "version",
    )
    out(table(headers, rows) if rows else "no live workers")
    return EXIT_OK
