"""``HandlerRegistry``: which handler runs a job, by job name, and the payload model to decode into."""

from __future__ import annotations

from collections.abc import Mapping

from application.jobs.job_types import JobType, JobTypes
from domain.queue.context import Handler


class HandlerRegistry:
    def __init__(self, job_types: JobTypes, handlers: Mapping[str, Handler] | None = None) -> None:
        self.job_types = job_types
        self._handlers: dict[str, Handler] = {}
        for name, handler in (handlers or {}).items():
            self.register(name, handler)

    def register(self, name: str, handler: Handler) -> None:
        self.job_types.lookup(name)  # the name must be a known job type
        if name in self._handlers:
            raise ValueError(f"a handler for {name!r} is already registered")
        self._handlers[name] = handler

    def find(self, name: str) -> tuple[JobType, Handler] | None:
        """The job type and handler for ``name``, or None if this registry has no handler for it
        (the worker then hands the job back, ADR 0017)."""
        handler = self._handlers.get(name)
        if handler is None:
            return None
        return self.job_types.lookup(name), handler

    def names(self) -> list[str]:
        return sorted(self._handlers)
