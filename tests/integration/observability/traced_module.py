"""The module of the tracing and heartbeat tests: one queue whose jobs fail their first
``fail_times`` attempts (retried 50 ms later) and may hold their slot for ``hold_s`` seconds."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from backbone import Backoff, BackoffType, DomainModule, JobContext, JobSpec, QueueDefaults, QueueSpec

QUEUE = "traced"
JOB = "traced.job.v1"
ATTEMPTS = 3


class Flaky(BaseModel):
    fail_times: int = 0
    hold_s: float = 0.0


async def run(job: Flaky, ctx: JobContext) -> str:
    if job.hold_s:
        await asyncio.sleep(job.hold_s)
    if ctx.attempt <= job.fail_times:
        raise RuntimeError(f"attempt {ctx.attempt} fails on purpose")
    return "done"


MODULE = DomainModule(
    "traced",
    queues=[
        QueueSpec(
            QUEUE,
            concurrency=4,
            defaults=QueueDefaults(
                attempts=ATTEMPTS, backoff=Backoff(type=BackoffType.FIXED, delay=50, jitter=0.0)
            ),
        )
    ],
    jobs=[JobSpec(JOB, Flaky, queue=QUEUE)],
    handlers=lambda ctx: {JOB: run},
)
