"""A second stop signal cancels active jobs at once instead of waiting out the grace period."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

from adapters.memory import MemoryBroker
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.worker import HandlerRegistry, Worker, WorkerOptions
from bootstrap.commands import run_workers
from domain.queue.context import JobContext
from domain.queue.job import JobState

NAME = "unit.stuck.v1"


async def test_second_sigterm_hands_back_active_jobs_without_waiting_for_the_grace() -> None:
    job_types = JobTypes()
    job_types.register(NAME)
    queue = MemoryBroker().queue(JobFactory("signals", job_types))
    started = asyncio.Event()

    async def stuck(payload: Any, ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(120)

    worker = Worker(
        queue, HandlerRegistry(job_types, {NAME: stuck}), WorkerOptions(block_ms=50, shutdown_grace_ms=60_000)
    )
    job = await queue.add(NAME, {})

    async def signal_twice() -> None:
        await asyncio.wait_for(started.wait(), 10)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.2)
        os.kill(os.getpid(), signal.SIGTERM)

    began = time.monotonic()
    await asyncio.gather(run_workers([worker]), signal_twice())
    assert time.monotonic() - began < 10
    after = await queue.get_job(job.id)
    assert (after.state, after.attempts_started) == (JobState.WAITING, 1)
