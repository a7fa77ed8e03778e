"""The module the real-Prometheus test's worker process runs: one queue, jobs that complete or are
refused for good (dead-lettered at once)."""

from __future__ import annotations

from pydantic import BaseModel

from backbone import DomainModule, JobContext, JobSpec, PermanentError, QueueSpec

QUEUE = "metered"
JOB = "metered.job.v1"


class Metered(BaseModel):
    ok: bool


async def run(job: Metered, ctx: JobContext) -> None:
    if not job.ok:
        raise PermanentError("refused for good")


MODULE = DomainModule(
    "metered",
    queues=[QueueSpec(QUEUE)],
    jobs=[JobSpec(JOB, Metered, queue=QUEUE)],
    handlers=lambda ctx: {JOB: run},
)
