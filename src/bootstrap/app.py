"""``Backbone``: the enabled modules on one broker, in this process (what ``backbone`` re-exports).

The same composition root as the CLI (``build_container``), so a queue gets the same topology
defaults whichever way it is opened. ``Backbone.open(url, modules=[...])`` connects nothing yet;
the first queue call does. ``async with`` closes every queue and the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from application.audit import AuditEntry, AuditHook, AuditQuery, AuditStore, LifecycleAuditHook
from application.hooks import Hook
from application.worker import Worker
from bootstrap.container import Container, build_container, shutdown
from bootstrap.modules import ModuleCatalog, ModuleRuntime
from bootstrap.queues import QueueHandles
from bootstrap.scheduling import build_scheduler
from bootstrap.settings import load_settings
from bootstrap.wiring import WorkerFactory
from domain.queue.errors import UnknownJobNameError
from domain.queue.module import DomainModule
from domain.queue.port import IGenericQueue

T = TypeVar("T")

IDLE_POLL_S = 0.01
SCHEDULER_STOP_TIMEOUT_S = 15.0  # its one wait in flight is an add bounded by 10 s


class Backbone:
    """Queues, services and workers of the enabled modules on one broker."""

    def __init__(self, container: Container) -> None:
        self.container = container

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        modules: Sequence[DomainModule] | None = None,
        hooks: Sequence[Hook] = (),
        config_file: str | Path | None = None,
        **settings: Any,
    ) -> Backbone:
        """``url`` (``memory://``, ``redis://...``, ``amqp://...``, ``kafka://...``) over the
        settings from the environment and ``config_file``; ``modules`` (declarations) replace
        ``[app] modules`` when given; ``hooks`` observe every queue and worker (after any in
        ``[app] hooks``, ADR 0016). Other keyword arguments are settings sections
        (``worker={"lease_ms": 5000}``). Raises ``SettingsError`` for bad settings."""
        if url is not None:
            settings["broker"] = {**settings.get("broker", {}), "url": url}
        return cls(build_container(load_settings(config_file, **settings), modules, hooks))

    @property
    def _handles(self) -> QueueHandles:
        handles: QueueHandles = self.container.queues()
        return handles

    def queue(self, name: str) -> IGenericQueue:
        """The queue ``name`` with its module's defaults (connects on first use)."""
        return self._handles.handle(name)

    def route(self, job_name: str) -> str:
        """The queue the module declaring ``job_name`` routes it to (``UnknownJobNameError`` if none)."""
        catalog: ModuleCatalog = self.container.catalog()
        queue = catalog.route(job_name)
        if queue is None:
            known = ", ".join(sorted(catalog.jobs)) or "none"
            rule = f"no enabled module declares the job {job_name!r} (known: {known})"
            raise UnknownJobNameError("name", rule)
        return queue

    def service(self, kind: type[T]) -> T:
        """A service an enabled module offers (``app.service(TransactionQueueService)``)."""
        runtime: ModuleRuntime = self.container.modules()
        return runtime.service(kind)

    def handled_queues(self) -> list[str]:
        factory: WorkerFactory = self.container.workers()
        return factory.handlers.handled_queues()

    async def worker(self, queue: str, **options: Any) -> Worker:
        """A worker for ``queue`` running its module's handlers (``run()`` it, ``request_stop()`` it).

        ``options`` override ``WorkerOptions`` fields (``concurrency=4``, ``block_ms=100``).
        Raises ``UnhandledQueueError`` when no enabled module handles ``queue``."""
        factory: WorkerFactory = self.container.workers()
        return await factory.build(queue, **options)

    @contextlib.asynccontextmanager
    async def workers(self, *queues: str, **options: Any) -> AsyncIterator[list[Worker]]:
        """Run workers for ``queues`` (default: every queue a module handles) while the block runs,
        and the schedules whose jobs go to those queues (ADR 0020); on leaving it the scheduler
        stops and the workers finish their active jobs and stop."""
        names = list(queues) or self.handled_queues()
        factory: WorkerFactory = self.container.workers()
        for name in names:
            factory.handlers.check_handled(name)
        running = [await self.worker(name, **options) for name in names]
        tasks = [asyncio.create_task(worker.run(), name=f"worker:{worker.queue}") for worker in running]
        scheduler = build_scheduler(self.container.schedules(), names, self._handles, self.container.clock())
        scheduling = asyncio.create_task(scheduler.run(), name="scheduler")
        try:
            for worker in running:
                await worker.wait_started()
            yield running
        finally:
            scheduler.request_stop()
            for worker in running:
                worker.request_stop()
            await asyncio.wait_for(scheduling, SCHEDULER_STOP_TIMEOUT_S)
            await asyncio.gather(*tasks)

    async def wait_until_idle(self, *queues: str, timeout_s: float = 30.0) -> None:
        """Return once ``queues`` (default: every queue a module handles) have nothing waiting,
        delayed or active; ``TimeoutError`` after ``timeout_s``."""
        names = list(queues) or self.handled_queues()
        deadline = time.monotonic() + timeout_s
        while True:
            busy = []
            for name in names:
                stats = await self.queue(name).get_stats()
                if stats.waiting or stats.delayed or stats.active:
                    busy.append(name)
            if not busy:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"queues still busy after {timeout_s} s: {', '.join(busy)}")
            await asyncio.sleep(IDLE_POLL_S)

    async def audit_log(self, query: AuditQuery | None = None) -> list[AuditEntry]:
        """The audit log of admin actions on this broker (ADR 0024), oldest first: entries of
        ``query`` (default: all, at most 1000) still within ``audit.retention_ms``. Lifecycle
        entries (``audit.lifecycle``) recorded so far by this process are written first."""
        hook: AuditHook | None = self.container.audit_hook()
        if isinstance(hook, LifecycleAuditHook):
            await hook.flush()
        store: AuditStore = self.container.audit_store()
        return await store.read(query or AuditQuery())

    async def close(self) -> None:
        await shutdown(self.container)

    async def __aenter__(self) -> Backbone:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
