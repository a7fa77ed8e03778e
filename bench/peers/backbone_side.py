"""This project's producer side of ``bench/peers/run.py``; the worker is ``python -m bootstrap.bench_worker``.

    backbone_side.py fill       QUEUE JOBS BATCH   add JOBS jobs with add_bulk (untimed setup)
    backbone_side.py add-single QUEUE JOBS         sequential awaited add, timed
    backbone_side.py add-bulk   QUEUE JOBS BATCH   add_bulk in batches of BATCH, timed
    backbone_side.py produce    QUEUE JOBS RATE    add at a fixed rate, payload carries t_ns

The broker comes from the settings (``BACKBONE_BROKER__URL``); the queue uses its default job options
and retention. Each mode prints one JSON line on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobType, JobTypes
from application.queue_backend import QueueBackend
from bootstrap.bench_worker import NOOP_JOB
from bootstrap.brokers import create_broker
from bootstrap.settings import load_settings
from domain.queue.job import NewJob


async def _bulk(queue: QueueBackend, jobs: int, batch: int) -> None:
    for start in range(0, jobs, batch):
        await queue.add_bulk([NewJob(NOOP_JOB, {"i": i}) for i in range(start, min(jobs, start + batch))])


async def _single(queue: QueueBackend, jobs: int) -> None:
    for i in range(jobs):
        await queue.add(NOOP_JOB, {"i": i})


async def _produce(queue: QueueBackend, jobs: int, rate: float) -> None:
    gap_s = 1 / rate
    begin = time.perf_counter()
    for i in range(jobs):
        await queue.add(NOOP_JOB, {"i": i, "t_ns": time.time_ns()})
        await asyncio.sleep(max(0.0, begin + (i + 1) * gap_s - time.perf_counter()))


async def run(mode: str, queue_name: str, jobs: int, arg: float) -> dict[str, Any]:
    broker = create_broker(load_settings().broker)
    try:
        queue = await broker.open_queue(JobFactory(queue_name, JobTypes([JobType(NOOP_JOB)])))
        try:
            begin, cpu_begin = time.perf_counter(), time.process_time()
            if mode == "fill":
                await _bulk(queue, jobs, int(arg))
            elif mode == "add-single":
                await _single(queue, jobs)
            elif mode == "add-bulk":
                await _bulk(queue, jobs, int(arg))
            elif mode == "produce":
                await _produce(queue, jobs, arg)
            else:
                raise ValueError(f"unknown mode {mode!r}")
            seconds, cpu_seconds = time.perf_counter() - begin, time.process_time() - cpu_begin
        finally:
            await queue.close()
    finally:
        await broker.close()
    result: dict[str, Any] = {"jobs": jobs, "seconds": seconds, "cpu_seconds": cpu_seconds}
    if mode == "add-bulk":
        result["batch_size"] = int(arg)
    return result


def main() -> int:
    args = sys.argv[1:]
    if len(args) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    mode, queue_name, jobs = args[0], args[1], int(args[2])
    arg = float(args[3]) if len(args) == 4 else 0.0
    print(json.dumps(asyncio.run(run(mode, queue_name, jobs, arg))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
