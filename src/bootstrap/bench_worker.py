"""The worker process of ``backbone bench --cross-process``: latency with producer and worker apart.

Run by the bench as ``python -m bootstrap.bench_worker QUEUE JOBS`` with the bench's environment
(``BACKBONE_BROKER__URL`` set to its broker). It starts an idle worker (concurrency 1) on QUEUE,
prints ``ready``, and for each job records the handler's start time minus the ``t_ns`` the
producer put in the payload (both ``time.time_ns()`` on the same machine). After JOBS jobs it
prints the samples (ms) as one JSON line and exits; after ``timeout_s`` it exits with status 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobType, JobTypes
from application.worker import HandlerRegistry, Worker, WorkerOptions
from bootstrap.bench import NOOP_JOB, WORKER_READY
from bootstrap.brokers import create_broker
from bootstrap.settings import load_settings
from domain.queue.context import JobContext


async def run(queue_name: str, jobs: int, timeout_s: float) -> list[float]:
    settings = load_settings()
    broker = create_broker(settings.broker)
    job_types = JobTypes([JobType(NOOP_JOB)])
    samples: list[float] = []
    all_started = asyncio.Event()

    async def record(payload: Any, ctx: JobContext) -> None:
        samples.append((time.time_ns() - int(payload["t_ns"])) / 1e6)
        if len(samples) >= jobs:
            all_started.set()

    try:
        queue = await broker.open_queue(JobFactory(queue_name, job_types))
        worker = Worker(
            queue, HandlerRegistry(job_types, {NOOP_JOB: record}), WorkerOptions(concurrency=1, block_ms=1000)
        )
        task = asyncio.create_task(worker.run())
        await worker.wait_started()
        print(WORKER_READY, flush=True)
        try:
            await asyncio.wait_for(all_started.wait(), timeout_s)
        finally:
            await worker.stop()
            await task
            await queue.close()
    finally:
        await broker.close()
    return samples


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (2, 3):
        print("usage: python -m bootstrap.bench_worker QUEUE JOBS [TIMEOUT_S]", file=sys.stderr)
        return 2
    timeout_s = float(args[2]) if len(args) == 3 else 600.0
    try:
        samples = asyncio.run(run(args[0], int(args[1]), timeout_s))
    except TimeoutError:
        print(f"bench worker: not every job started within {timeout_s} s", file=sys.stderr)
        return 1
    print(json.dumps(samples), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
