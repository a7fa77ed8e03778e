"""``DomainModule``: what a module declares, in one place inside its own package, for the composition root.

A module (``domain/transactions/module.py`` declares ``MODULE``) names:

- its queues with their topology defaults (``QueueSpec``: concurrency, attempts, backoff, timeout,
  retention, rate limit);
- its job types (``JobSpec``: versioned name -> pydantic payload model, and the queue it goes to);
- its handlers, built from what the composition root provides (``ModuleContext``);
- the services it offers other code (by type, built from the same context).

Nothing here imports an adapter or the container: the composition root (``bootstrap``) reads the
declarations of the enabled modules and builds itself from them (ADR 0014). The shape follows seed
002's ``TransactionModule`` / ``GenericMessageQueueModule``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from domain.queue.context import Handler
from domain.queue.errors import InvalidOptionError
from domain.queue.naming import validate_job_name, validate_queue_name
from domain.queue.options import MAX_ATTEMPTS, MAX_DELAY_MS, MAX_KEEP_LOGS, Backoff, QueueDefaults, RateLimit
from domain.queue.port import IGenericQueue
from domain.queue.schedule import Schedule
from domain.queue.tenancy import TenantPolicy

T = TypeVar("T")

MAX_CONCURRENCY = 10_000


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """One queue of a module and its topology: worker concurrency, job defaults, rate limit.

    ``defaults`` holds what a job leaves unset (attempts, backoff, timeout, retention); settings
    may still override any field per queue (``[queues.<name>]``).
    """

    name: str
    concurrency: int = 1
    defaults: QueueDefaults = field(default_factory=QueueDefaults)
    rate_limit: RateLimit | None = None
    tenancy: TenantPolicy | None = None  # fair share and per-tenant limits (ADR 0021)

    def __post_init__(self) -> None:
        validate_queue_name(self.name)
        prefix = f"queues.{self.name}"
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int):
            raise InvalidOptionError(f"{prefix}.concurrency", f"must be an integer in 1..{MAX_CONCURRENCY}")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise InvalidOptionError(
                f"{prefix}.concurrency", f"must be in 1..{MAX_CONCURRENCY}", detail=f"got {self.concurrency}"
            )
        if not 1 <= self.defaults.attempts <= MAX_ATTEMPTS:
            raise InvalidOptionError(f"{prefix}.attempts", f"must be in 1..{MAX_ATTEMPTS}")
        self.defaults.backoff.validate(f"{prefix}.backoff")
        keep_logs = self.defaults.keep_logs
        if (
            isinstance(keep_logs, bool)
            or not isinstance(keep_logs, int)
            or not 0 <= keep_logs <= MAX_KEEP_LOGS
        ):
            raise InvalidOptionError(f"{prefix}.keep_logs", f"must be an integer in 0..{MAX_KEEP_LOGS}")
        if self.rate_limit is not None:
            self.rate_limit.validate()
        if self.tenancy is not None:
            object.__setattr__(self, "tenancy", self.tenancy.validate(f"{prefix}.tenancy"))


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One job type: its versioned name (``media.thumbnail.v1``), payload model and queue.

    ``model=None`` accepts any JSON-compatible data. ``attempts``, ``backoff`` and ``timeout`` are
    this job type's policy: set, they override the queue's defaults for jobs of this type, and a
    job's own options override them (job options > job type > queue > ``QueueDefaults``, ADR 0022).
    """

    name: str
    model: type[BaseModel] | None
    queue: str
    attempts: int | None = None
    backoff: Backoff | None = None
    timeout: int | None = None

    def __post_init__(self) -> None:
        validate_job_name(self.name)
        validate_queue_name(self.queue)
        prefix = f"jobs.{self.name}"
        if self.attempts is not None:
            _check_int(f"{prefix}.attempts", self.attempts, 1, MAX_ATTEMPTS)
        if self.backoff is not None:
            if not isinstance(self.backoff, Backoff):
                raise InvalidOptionError(f"{prefix}.backoff", "must be a Backoff or None")
            self.backoff.validate(f"{prefix}.backoff")
        if self.timeout is not None:
            _check_int(f"{prefix}.timeout", self.timeout, 1, MAX_DELAY_MS)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionError(name, f"must be an integer in {low}..{high}", detail=f"got {value!r}")
    if not low <= value <= high:
        raise InvalidOptionError(name, f"must be in {low}..{high}", detail=f"got {value}")


class ModuleContext(ABC):
    """What the composition root gives a module to build its handlers and services from."""

    @abstractmethod
    def queue(self, name: str) -> IGenericQueue:
        """The queue ``name`` (connected on first use)."""

    @abstractmethod
    def service(self, kind: type[T]) -> T:
        """A service another enabled module offers (by type); raises if none offers it."""

    @abstractmethod
    def dependency(self, key: str, kind: Callable[..., T]) -> T:
        """Something the composition root provides under ``key`` (an outbound adapter, a setting),
        checked to be an instance of the class ``kind`` (a port's ABC is fine)."""

    def clock(self) -> int:
        """Now in epoch milliseconds."""
        return time.time_ns() // 1_000_000


HandlersBuilder = Callable[[ModuleContext], Mapping[str, Handler]]
ServiceBuilder = Callable[[ModuleContext], Any]


def _no_handlers(ctx: ModuleContext) -> Mapping[str, Handler]:
    return {}


@dataclass(frozen=True, slots=True)
class DomainModule:
    """Everything the composition root needs from one module.

    ``handlers`` is called once with the ``ModuleContext`` and returns a handler per job name (each
    a job this module declares); ``services`` maps a type to the function that builds the one
    instance of it.
    """

    name: str
    queues: Sequence[QueueSpec] = ()
    jobs: Sequence[JobSpec] = ()
    handlers: HandlersBuilder = _no_handlers
    services: Mapping[type[Any], ServiceBuilder] = field(default_factory=dict)
    schedules: Sequence[Schedule] = ()  # jobs of this module added on a timetable (ADR 0020)

    def __post_init__(self) -> None:
        object.__setattr__(self, "queues", tuple(self.queues))
        object.__setattr__(self, "schedules", tuple(self.schedules))
        object.__setattr__(self, "jobs", tuple(self.jobs))
        object.__setattr__(self, "services", dict(self.services))
        self._validate()

    def _validate(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidOptionError("module.name", "must be a non-empty string")
        where = f"module {self.name}"
        queue_names = [queue.name for queue in self.queues]
        for name in queue_names:
            if queue_names.count(name) > 1:
                raise InvalidOptionError(f"{where}.queues", f"must not declare queue {name!r} twice")
        job_names = [job.name for job in self.jobs]
        for job in self.jobs:
            if job_names.count(job.name) > 1:
                raise InvalidOptionError(f"{where}.jobs", f"must not declare job {job.name!r} twice")
            if job.queue not in queue_names:
                raise InvalidOptionError(
                    f"{where}.jobs.{job.name}.queue",
                    "must be one of the module's queues",
                    detail=f"{job.queue!r}; declared: {', '.join(queue_names) or 'none'}",
                )
        schedule_names = [schedule.name for schedule in self.schedules]
        for schedule in self.schedules:
            if schedule_names.count(schedule.name) > 1:
                raise InvalidOptionError(f"{where}.schedules", f"must not declare {schedule.name!r} twice")
            if schedule.job not in job_names:
                raise InvalidOptionError(
                    f"{where}.schedules.{schedule.name}.job",
                    "must be one of the module's jobs",
                    detail=f"{schedule.job!r}; declared: {', '.join(job_names) or 'none'}",
                )

    def queue_of(self, job_name: str) -> str | None:
        for job in self.jobs:
            if job.name == job_name:
                return job.queue
        return None


__all__ = ["DomainModule", "HandlersBuilder", "JobSpec", "ModuleContext", "QueueSpec", "ServiceBuilder"]
