"""``JobTypes``: the registry of job names and the payload model of each (pydantic, or plain JSON)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel

from domain.queue.errors import UnknownJobNameError
from domain.queue.naming import validate_job_name
from domain.queue.options import Backoff, QueueDefaults


@dataclass(frozen=True, slots=True)
class JobType:
    name: str
    model: type[BaseModel] | None = None  # None: any JSON-compatible data
    # The job type's policy (JobSpec): None takes the queue's default (ADR 0022).
    attempts: int | None = None
    backoff: Backoff | None = None
    timeout: int | None = None

    @property
    def has_policy(self) -> bool:
        return self.attempts is not None or self.backoff is not None or self.timeout is not None

    def defaults_over(self, queue: QueueDefaults) -> QueueDefaults:
        """The queue's defaults with this type's policy on top: what a job of this type leaves unset."""
        if not self.has_policy:
            return queue
        return replace(
            queue,
            attempts=queue.attempts if self.attempts is None else self.attempts,
            backoff=queue.backoff if self.backoff is None else self.backoff,
            timeout=queue.timeout if self.timeout is None else self.timeout,
        )


class JobTypes:
    """Job names a queue accepts. ``strict=False`` accepts any well-formed name as plain JSON."""

    def __init__(self, types: Iterable[JobType] = (), *, strict: bool = True) -> None:
        self._types: dict[str, JobType] = {}
        self.strict = strict
        for job_type in types:
            self.add(job_type)

    def register(self, name: str, model: type[BaseModel] | None = None) -> JobType:
        return self.add(JobType(name, model))

    def add(self, job_type: JobType) -> JobType:
        """Register ``job_type`` with its policy; the same name twice must be the same type."""
        validate_job_name(job_type.name)
        existing = self._types.get(job_type.name)
        if existing is not None and existing != job_type:
            raise ValueError(f"job name {job_type.name!r} is already registered as {existing!r}")
        self._types[job_type.name] = job_type
        return job_type

    def lookup(self, name: str) -> JobType:
        """The type for a well-formed ``name``; raises ``UnknownJobNameError`` in strict mode."""
        job_type = self._types.get(name)
        if job_type is not None:
            return job_type
        if self.strict:
            known = ", ".join(sorted(self._types)) or "none"
            raise UnknownJobNameError(
                "name", "must be a registered job name", detail=f"{name!r}; known: {known}"
            )
        return JobType(name)

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def names(self) -> list[str]:
        return sorted(self._types)

    def merged(self, other: JobTypes) -> JobTypes:
        merged = JobTypes(self._types.values(), strict=self.strict and other.strict)
        for job_type in other._types.values():
            merged.add(job_type)
        return merged

    def describe(self) -> dict[str, Any]:
        return {name: (t.model.__name__ if t.model else "json") for name, t in sorted(self._types.items())}
