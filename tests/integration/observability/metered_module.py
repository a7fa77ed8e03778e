"""The module the worker processes of these tests run: one queue, jobs that complete, are refused
for good (dead-lettered at once), or block the event loop for a while (to fail /healthz)."""

from __future__ import annotations

import time

from pydantic import BaseModel

from backbone import DomainModule, JobContext, JobSpec, PermanentError, QueueSpec

QUEUE = "metered"
JOB = "metered.job.v1"


class Metered(BaseModel):
    ok: bool
    block_s: float = 0.0


async def run(job: Metered, ctx: JobContext) -> None:
    if job.block_s:
        time.sleep(job.block_s)  # noqa: ASYNC251 - blocks the event loop on purpose
    if not job.ok:
        raise PermanentError("refused for good")


MODULE = DomainModule(
    "metered",
    queues=[QueueSpec(QUEUE)],
    jobs=[JobSpec(JOB, Metered, queue=QUEUE)],
    handlers=lambda ctx: {JOB: run},
)
