"""The module of the tracing and heartbeat tests: one queue whose jobs fail their first
``fail_times`` attempts (retried 50 ms later) and may hold their slot for ``hold_s`` seconds."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from backbone import (
    Backoff,
    BackoffType,
    DomainModule,
    Handler,
    IGenericQueue,
    JobContext,
    JobSpec,
    ModuleContext,
    QueueDefaults,
    QueueSpec,
)

QUEUE = "traced"
JOB = "traced.job.v1"
FOLLOW_UP = "traced.followup.v1"  # its handler adds a JOB
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


class FollowUp(BaseModel):
    pass


def follow_up(queue: IGenericQueue) -> Handler:
    async def run(job: FollowUp, ctx: JobContext) -> str:
        added = await queue.add(JOB, Flaky())
        return added.id

    return run


def handlers(ctx: ModuleContext) -> dict[str, Handler]:
    return {JOB: run, FOLLOW_UP: follow_up(ctx.queue(QUEUE))}


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
    jobs=[JobSpec(JOB, Flaky, queue=QUEUE), JobSpec(FOLLOW_UP, FollowUp, queue=QUEUE)],
    handlers=handlers,
)
