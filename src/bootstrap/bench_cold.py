"""The child processes of ``backbone bench --cold-start``: a new producer, a new worker, timed from spawn.

Run as ``python -m bootstrap.bench_cold producer QUEUE [--adds N]`` or ``python -m bootstrap.bench_cold
worker QUEUE`` with the bench's environment (``BACKBONE_BROKER__URL`` set to its broker). Prints one
JSON object (wall-clock times are ``time.time_ns()``, comparable with the parent's on one machine):

- ``producer``: opens QUEUE, adds one job (``first_add_ns`` when that add returned), then ``N`` more
  one await at a time (``adds``, ``adds_s``); ``rss_mb`` is the process's peak resident set after
  all of that, ``replica_jobs`` how many jobs its replica holds (0 when it loaded none, ADR 0028).
- ``worker``: opens QUEUE and starts one worker (concurrency 1); ``first_started_ns`` is when its
  first handler started; ``rss_mb`` the peak resident set then.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections.abc import Sequence
from typing import Any

from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobType, JobTypes
from application.queue_backend import QueueBackend
from application.replication.replicated_queue import ReplicatedQueue
from application.worker import HandlerRegistry, Worker, WorkerOptions
from bootstrap.brokers import create_broker
from bootstrap.settings import load_settings
from domain.queue.context import JobContext

IMPORTED_NS = time.time_ns()
NOOP_JOB = "bench.noop.v1"


def peak_rss_mb() -> float:
    """This process's peak resident set (``VmHWM``: reset by exec, unlike ``ru_maxrss``, which
    keeps the forking parent's peak)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)  # kB
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # not Linux: KiB


def replica_jobs(queue: QueueBackend) -> int:
    if isinstance(queue, ReplicatedQueue):
        engine = queue.engine
        return len(engine.machine.jobs) if engine.has_replica else 0
    return -1  # not a replicated queue: nothing to report


async def produce(queue_name: str, adds: int) -> dict[str, Any]:
    broker = create_broker(load_settings().broker)
    try:
        queue = await broker.open_queue(JobFactory(queue_name, JobTypes([JobType(NOOP_JOB)])))
        try:
            await queue.add(NOOP_JOB, {"cold": True})
            first_add_ns = time.time_ns()
            begin = time.perf_counter()
            for i in range(adds):
                await queue.add(NOOP_JOB, {"i": i})
            adds_s = time.perf_counter() - begin
            return {
                "imported_ns": IMPORTED_NS,
                "first_add_ns": first_add_ns,
                "adds": adds,
                "adds_s": round(adds_s, 4),
                "rss_mb": peak_rss_mb(),
                "replica_jobs": replica_jobs(queue),
            }
        finally:
            await queue.close()
    finally:
        await broker.close()


async def work(queue_name: str, timeout_s: float) -> dict[str, Any]:
    broker = create_broker(load_settings().broker)
    started = asyncio.Event()
    first_started_ns = 0

    async def handle(payload: Any, ctx: JobContext) -> None:
        nonlocal first_started_ns
        if not started.is_set():
            first_started_ns = time.time_ns()
            started.set()

    try:
        job_types = JobTypes([JobType(NOOP_JOB)])
        queue = await broker.open_queue(JobFactory(queue_name, job_types))
        try:
            handlers = HandlerRegistry(job_types, {NOOP_JOB: handle})
            worker = Worker(queue, handlers, WorkerOptions(concurrency=1))
            task = asyncio.create_task(worker.run())
            try:
                async with asyncio.timeout(timeout_s):
                    await started.wait()
            finally:
                await worker.stop()
                await task
            return {
                "imported_ns": IMPORTED_NS,
                "first_started_ns": first_started_ns,
                "rss_mb": peak_rss_mb(),
                "replica_jobs": replica_jobs(queue),
            }
        finally:
            await queue.close()
    finally:
        await broker.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bootstrap.bench_cold")
    parser.add_argument("role", choices=["producer", "worker"])
    parser.add_argument("queue")
    parser.add_argument("--adds", type=int, default=0, help="producer: adds after the first one")
    parser.add_argument("--timeout-s", type=float, default=120.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.role == "producer":
            result = asyncio.run(produce(args.queue, args.adds))
        else:
            result = asyncio.run(work(args.queue, args.timeout_s))
    except TimeoutError:
        print(f"bench cold start: no job started within {args.timeout_s} s", file=sys.stderr)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
