"""The enabled modules: loaded from their import paths, checked together, and given a context.

``load_modules(settings.app.modules)`` imports each entry (``package.module:ATTRIBUTE``, or
``package.module`` for its ``MODULE``); ``ModuleCatalog`` checks the modules against each other
(one owner per queue, job and service) and derives the job types, the job routes and the queue
specs; ``ModuleRuntime`` is the ``ModuleContext`` the modules build their handlers and services
from. Nothing here names a module (ADR 0014).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

from application.clock import Clock
from application.hooks import Hook
from application.jobs.job_types import JobType, JobTypes
from bootstrap.queues import QueueHandles
from bootstrap.settings import SettingsError
from domain.queue.context import Handler
from domain.queue.errors import UnknownJobNameError
from domain.queue.module import DomainModule, JobSpec, ModuleContext, QueueSpec
from domain.queue.port import IGenericQueue

T = TypeVar("T")

MODULES_FIELD = "app.modules"
HOOKS_FIELD = "app.hooks"
DEFAULT_HOOK_ATTRIBUTE = "HOOK"
DEFAULT_ATTRIBUTE = "MODULE"


class ModuleError(SettingsError):
    """The enabled modules cannot be loaded or do not fit together (exit code 2)."""

    def __init__(self, rule: str, field: str = MODULES_FIELD) -> None:
        super().__init__(field, rule)


class UnhandledQueueError(SettingsError):
    """A worker was asked for a queue no enabled module has a handler for."""

    def __init__(self, queue: str, known: Sequence[str]) -> None:
        self.queue = queue
        self.known = tuple(known)
        super().__init__(
            "queue",
            f"no enabled module handles {queue!r} (queues with handlers: {', '.join(known) or 'none'}; "
            f"enable the module that declares it in [app] modules, BACKBONE_APP__MODULES or --module)",
        )


def _import_entry(entry: str, default_attribute: str, field: str) -> Any:
    """What an import path ``package.module[:ATTRIBUTE]`` names; ``ModuleError`` naming the entry."""
    module_name, _, attribute = entry.partition(":")
    attribute = attribute or default_attribute
    try:
        package = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModuleError(
            f"cannot import {module_name!r} for entry {entry!r} ({type(exc).__name__}: {exc})", field
        ) from exc
    found = getattr(package, attribute, None)
    if found is None:
        raise ModuleError(f"{module_name!r} has no attribute {attribute!r} (entry {entry!r})", field)
    return found


def load_module(entry: str) -> DomainModule:
    """The ``DomainModule`` an entry names; ``ModuleError`` naming the entry otherwise."""
    found = _import_entry(entry, DEFAULT_ATTRIBUTE, MODULES_FIELD)
    if not isinstance(found, DomainModule):
        raise ModuleError(f"{entry!r} must be a DomainModule, got {type(found).__name__}")
    return found


def load_modules(entries: Iterable[str]) -> tuple[DomainModule, ...]:
    return tuple(load_module(entry) for entry in entries)


def load_hook(entry: str) -> Hook:
    """The ``Hook`` an entry names: an instance, or a class/function called without arguments."""
    found = _import_entry(entry, DEFAULT_HOOK_ATTRIBUTE, HOOKS_FIELD)
    hook = found() if callable(found) and not isinstance(found, Hook) else found
    if not isinstance(hook, Hook):
        raise ModuleError(f"{entry!r} must be a Hook or make one, got {type(hook).__name__}", HOOKS_FIELD)
    return hook


def load_hooks(entries: Iterable[str], given: Sequence[Hook] = ()) -> tuple[Hook, ...]:
    """The configured hooks, then ``given`` (hooks passed in code, ``Backbone.open(hooks=...)``)."""
    return tuple(load_hook(entry) for entry in entries) + tuple(given)


class ModuleCatalog:
    """The enabled modules together: every queue, job and service has exactly one owner."""

    def __init__(self, modules: Sequence[DomainModule]) -> None:
        self.modules = tuple(modules)
        self.queues: dict[str, QueueSpec] = {}
        self.jobs: dict[str, JobSpec] = {}
        self.queue_owner: dict[str, str] = {}
        self.job_owner: dict[str, str] = {}
        self.service_owner: dict[type[Any], DomainModule] = {}
        names: set[str] = set()
        for module in self.modules:
            if module.name in names:
                raise ModuleError(f"two enabled modules are named {module.name!r}")
            names.add(module.name)
            for queue in module.queues:
                self._claim(self.queue_owner, queue.name, module, "queue")
                self.queues[queue.name] = queue
            for job in module.jobs:
                self._claim(self.job_owner, job.name, module, "job")
                self.jobs[job.name] = job
            for kind in module.services:
                other = self.service_owner.get(kind)
                if other is not None:
                    raise ModuleError(
                        f"modules {other.name!r} and {module.name!r} both offer the service {kind.__name__}"
                    )
                self.service_owner[kind] = module

    @staticmethod
    def _claim(owners: dict[str, str], name: str, module: DomainModule, what: str) -> None:
        other = owners.get(name)
        if other is not None:
            raise ModuleError(f"modules {other!r} and {module.name!r} both declare the {what} {name!r}")
        owners[name] = module.name

    def module_names(self) -> list[str]:
        return [module.name for module in self.modules]

    def job_types(self) -> JobTypes:
        """Every enabled module's job types in one strict registry."""
        types = JobTypes()
        for job in self.jobs.values():
            types.add(job_type_of(job))
        return types

    def route(self, job_name: str) -> str | None:
        """The queue a job name goes to (``None``: no enabled module declares it)."""
        job = self.jobs.get(job_name)
        return job.queue if job is not None else None

    def job_types_for(self, queue: str) -> JobTypes:
        """The job types a job on ``queue`` may have: those the modules route to it."""
        return QueueJobTypes(queue, self)


def job_type_of(job: JobSpec) -> JobType:
    """A module's ``JobSpec`` as the registry's ``JobType``, with its policy (ADR 0022)."""
    return JobType(job.name, job.model, attempts=job.attempts, backoff=job.backoff, timeout=job.timeout)


class QueueJobTypes(JobTypes):
    """One queue's job types. A name some module routes to another queue is refused naming that
    queue: a job added where no handler runs it would only wait forever or be dead-lettered."""

    def __init__(self, queue: str, catalog: ModuleCatalog) -> None:
        super().__init__(job_type_of(job) for job in catalog.jobs.values() if job.queue == queue)
        self.queue = queue
        self._catalog = catalog

    def lookup(self, name: str) -> JobType:
        route = self._catalog.route(name)
        if route is not None and route != self.queue:
            mine = ", ".join(self.names()) or "none"
            raise UnknownJobNameError(
                "name",
                f"must be a job of queue {self.queue!r}",
                detail=f"{name!r} goes to {route!r}; jobs of {self.queue!r}: {mine}",
            )
        return super().lookup(name)


def catalog_job_types(catalog: ModuleCatalog) -> JobTypes:
    return catalog.job_types()


Dependency = Callable[[], object]


class ModuleRuntime(ModuleContext):
    """The context every enabled module builds from: queues, other modules' services, dependencies.

    Services and handlers are built on first use, once each.
    """

    def __init__(
        self,
        catalog: ModuleCatalog,
        queues: QueueHandles,
        dependencies: Mapping[str, Dependency],
        clock: Clock,
    ) -> None:
        self.catalog = catalog
        self._queues = queues
        self._dependencies = dict(dependencies)
        self._clock = clock
        self._services: dict[type[Any], object] = {}
        self._building: list[type[Any]] = []
        self._handlers: dict[str, Handler] | None = None

    def queue(self, name: str) -> IGenericQueue:
        return self._queues.handle(name)

    def clock(self) -> int:
        return self._clock()

    def service(self, kind: type[T]) -> T:
        if kind in self._services:
            return cast(T, self._services[kind])
        owner = self.catalog.service_owner.get(kind)
        if owner is None:
            offered = ", ".join(sorted(k.__name__ for k in self.catalog.service_owner)) or "none"
            raise ModuleError(
                f"no enabled module offers the service {kind.__name__} (offered: {offered}; "
                f"enabled modules: {', '.join(self.catalog.module_names())})"
            )
        if kind in self._building:
            chain = " -> ".join(k.__name__ for k in [*self._building, kind])
            raise ModuleError(f"services depend on each other in a circle: {chain}")
        self._building.append(kind)
        try:
            built = owner.services[kind](self)
        finally:
            self._building.pop()
        if not isinstance(built, kind):
            raise ModuleError(
                f"module {owner.name!r} built a {type(built).__name__} for the service {kind.__name__}"
            )
        self._services[kind] = built
        return built

    def dependency(self, key: str, kind: Callable[..., T]) -> T:
        provider = self._dependencies.get(key)
        if provider is None:
            known = ", ".join(sorted(self._dependencies)) or "none"
            raise ModuleError(f"the composition root provides no dependency {key!r} (provided: {known})")
        value = provider()
        if not isinstance(kind, type) or not isinstance(value, kind):
            wanted = getattr(kind, "__name__", repr(kind))
            raise ModuleError(
                f"dependency {key!r} is a {type(value).__name__}, not the {wanted} a module asked for"
            )
        return cast(T, value)

    def handlers(self) -> dict[str, Handler]:
        """Every enabled module's handlers by job name (each must be a job of that module)."""
        if self._handlers is None:
            handlers: dict[str, Handler] = {}
            for module in self.catalog.modules:
                declared = {job.name for job in module.jobs}
                for name, handler in module.handlers(self).items():
                    if name not in declared:
                        raise ModuleError(
                            f"module {module.name!r} has a handler for {name!r}, which is not one of its "
                            f"jobs ({', '.join(sorted(declared)) or 'none'})"
                        )
                    handlers[name] = handler
            self._handlers = handlers
        return self._handlers
