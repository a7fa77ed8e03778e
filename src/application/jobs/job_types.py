"""``JobTypes``: the registry of job names and the payload model of each (pydantic, or plain JSON)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from domain.queue.errors import UnknownJobNameError
from domain.queue.naming import validate_job_name


@dataclass(frozen=True, slots=True)
class JobType:
    name: str
    model: type[BaseModel] | None = None  # None: any JSON-compatible data


class JobTypes:
    """Job names a queue accepts. ``strict=False`` accepts any well-formed name as plain JSON."""

    def __init__(self, types: Iterable[JobType] = (), *, strict: bool = True) -> None:
        self._types: dict[str, JobType] = {}
        self.strict = strict
        for job_type in types:
            self.register(job_type.name, job_type.model)

    def register(self, name: str, model: type[BaseModel] | None = None) -> JobType:
        validate_job_name(name)
        job_type = JobType(name, model)
        existing = self._types.get(name)
        if existing is not None and existing != job_type:
            raise ValueError(f"job name {name!r} is already registered with model {existing.model!r}")
        self._types[name] = job_type
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
            merged.register(job_type.name, job_type.model)
        return merged

    def describe(self) -> dict[str, Any]:
        return {name: (t.model.__name__ if t.model else "json") for name, t in sorted(self._types.items())}
