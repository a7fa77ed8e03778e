"""The worker's implementation of the handler-facing ``JobContext``."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass

from application.queue_backend import LeaseRef, QueueBackend
from domain.queue.context import JobContext
from domain.queue.errors import InvalidOptionError, LeaseLostError
from domain.queue.job import Job, JobProgress, Progress

# The id of the job being handled in this task (bootstrap's log filter adds it to every record).
current_job_id: ContextVar[str | None] = ContextVar("current_job_id", default=None)


@dataclass(frozen=True, slots=True)
class JobLogFields:
    job_id: str
    queue: str
    attempt: int
    correlation_id: str


class RunningJobContext(JobContext):
    def __init__(self, job: Job, lease: LeaseRef, backend: QueueBackend, logger: logging.Logger) -> None:
        self._job = job
        self._lease = lease
        self._backend = backend
        self._base_logger = logger
        self._logger: logging.LoggerAdapter[logging.Logger] | None = None

    @property
    def job(self) -> Job:
        return self._job

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        if self._logger is None:  # built on first use: most handlers never log
            job = self._job
            fields = JobLogFields(
                job.id, job.queue, job.attempts_started, job.metadata.correlation_id or job.id
            )
            self._logger = logging.LoggerAdapter(self._base_logger, {"job": fields})
        return self._logger

    async def update_progress(self, progress: Progress) -> None:
        validate_progress(progress)
        if not await self._backend.update_progress(self._lease, progress):
            raise LeaseLostError(f"job {self._job.id} is no longer held by this worker")

    async def log(self, text: str) -> None:
        if not await self._backend.append_log(self._lease, text):
            raise LeaseLostError(f"job {self._job.id} is no longer held by this worker")


def validate_progress(progress: object) -> None:
    if isinstance(progress, JobProgress):
        value: object = progress.percentage
    else:
        value = progress
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise InvalidOptionError("progress", "must be a number from 0 to 100 or a JobProgress")
