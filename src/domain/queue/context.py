"""What a handler sees of the running job. The worker runtime provides the implementation.

Handlers are ``async def handle(payload, ctx: JobContext) -> JSON-compatible result``; the payload
is the registered pydantic model instance (or the plain JSON data when no model is registered).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from domain.queue.job import Job, Progress


class JobContext(ABC):
    @property
    @abstractmethod
    def job(self) -> Job:
        """The job snapshot taken when this attempt started."""

    @property
    def attempt(self) -> int:
        """1 for the first attempt, 2 for the first retry, ..."""
        return self.job.attempts_started

    @property
    def correlation_id(self) -> str:
        return self.job.metadata.correlation_id or self.job.id

    @property
    @abstractmethod
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger that adds job_id, queue, attempt and correlation_id to every record."""

    @abstractmethod
    async def update_progress(self, progress: Progress) -> None:
        """Store progress (0..100, or a ``JobProgress``); visible through ``get_job`` at once.

        Raises ``LeaseLostError`` if another worker has taken the job over.
        """

    @abstractmethod
    async def log(self, text: str) -> None:
        """Store one line with the job (``get_job_logs``, ``backbone job logs``).

        The queue keeps the newest ``keep_logs`` lines per job (100 unless configured); a line
        longer than 2000 characters is cut. Lines are stored as given (not encrypted). Raises
        ``InvalidOptionError`` if ``text`` is not a string, ``LeaseLostError`` if another worker
        has taken the job over.
        """


Handler = Callable[[Any, JobContext], Awaitable[Any]]
