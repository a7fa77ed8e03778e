"""Fixtures for the domain modules' tests: a job context for driving handlers directly, and an
in-process queue world (memory broker + worker runtime) for end-to-end checks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace

import pytest
from pydantic import BaseModel

from adapters.memory import MemoryBroker, MemoryQueue
from application.clock import ManualClock
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.worker import HandlerRegistry, Worker, WorkerOptions
from domain.queue.context import Handler, JobContext
from domain.queue.job import Job, JobState, Progress
from domain.queue.metadata import JobMetadata
from domain.queue.options import JobOptions, QueueDefaults


class DirectJobContext(JobContext):
    """A real ``JobContext`` for calling a handler without a worker: progress is kept in order."""

    def __init__(self, job: Job) -> None:
        self._job = job
        self.progress: list[Progress] = []
        self.logs: list[str] = []
        self._logger = logging.LoggerAdapter(logging.getLogger("tests.handlers"), {})

    @property
    def job(self) -> Job:
        return self._job

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        return self._logger

    async def update_progress(self, progress: Progress) -> None:
        self.progress.append(progress)

    async def log(self, text: str) -> None:
        self.logs.append(text)

    def next_attempt(self) -> DirectJobContext:
        """The context of the job's next attempt: the broker hands back the last stored progress."""
        last = self.progress[-1] if self.progress else self._job.progress
        return DirectJobContext(
            replace(self._job, progress=last, attempts_started=self._job.attempts_started + 1)
        )


def make_job(job_id: str = "job-1", name: str = "test.job.v1", correlation_id: str = "corr-1") -> Job:
    return Job(
        id=job_id,
        queue="test-queue",
        name=name,
        data={},
        options=JobOptions().resolve(QueueDefaults()),
        metadata=JobMetadata(correlation_id=correlation_id),
        state=JobState.ACTIVE,
        created_at=1_700_000_000_000,
        attempts_started=1,
    )


@pytest.fixture
def context_for() -> Callable[..., DirectJobContext]:
    def build(
        job_id: str = "job-1", name: str = "test.job.v1", correlation_id: str = "corr-1"
    ) -> DirectJobContext:
        return DirectJobContext(make_job(job_id, name, correlation_id))

    return build


@dataclass
class QueueWorld:
    """Memory-broker queues for one module's job models, and workers to drain them."""

    broker: MemoryBroker
    job_types: JobTypes
    clock: Callable[[], int]
    queues: dict[str, MemoryQueue] = field(default_factory=dict)

    def queue(self, name: str) -> MemoryQueue:
        if name not in self.queues:
            factory = JobFactory(name, self.job_types, QueueDefaults())
            self.queues[name] = self.broker.queue(factory)
        return self.queues[name]

    async def drain(
        self, queue_name: str, handlers: Mapping[str, Handler], job_ids: list[str], timeout_s: float = 10.0
    ) -> list[Job]:
        """Run a worker until every job in ``job_ids`` is completed or failed; return them."""
        queue = self.queue(queue_name)
        handled = {name: handler for name, handler in handlers.items() if name in self.job_types}
        worker = Worker(
            queue, HandlerRegistry(self.job_types, handled), WorkerOptions(block_ms=20, lease_ms=5000)
        )
        task = asyncio.create_task(worker.run())
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                jobs = [await queue.get_job(job_id) for job_id in job_ids]
                if all(
                    job is not None and job.state in (JobState.COMPLETED, JobState.FAILED) for job in jobs
                ):
                    return [job for job in jobs if job is not None]
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"jobs not finished in {timeout_s} s: {[(j.id, j.state) for j in jobs if j]}"
                    )
                await asyncio.sleep(0.01)
        finally:
            await worker.stop()
            await task


@pytest.fixture
async def world_for() -> AsyncIterator[Callable[..., QueueWorld]]:
    brokers: list[MemoryBroker] = []

    def build(models: Mapping[str, type[BaseModel]], clock: Callable[[], int] | None = None) -> QueueWorld:
        broker = MemoryBroker(clock) if clock is not None else MemoryBroker()
        brokers.append(broker)
        job_types = JobTypes()
        for name, model in models.items():
            job_types.register(name, model)
        return QueueWorld(broker, job_types, clock or (lambda: time.time_ns() // 1_000_000))

    yield build
    for broker in brokers:
        await broker.close()


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock(start_ms=1_760_000_000_000)
