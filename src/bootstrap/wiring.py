"""What the container assembles beyond single objects: the handler table and workers built from
the topology.

Every job name has one queue (its ``JobSpec`` in the module that declares it). A queue's handler
registry holds the handlers of the jobs routed to it. A queue no enabled module has a handler for
gets no worker: ``UnhandledQueueError`` (the CLI exits 2), so a worker never takes jobs it would
only dead-letter.
"""

from __future__ import annotations

from collections.abc import Sequence

from application.hooks import Hook
from application.jobs.job_types import JobTypes
from application.worker import HandlerRegistry, Worker, WorkerOptions
from bootstrap.modules import ModuleCatalog, ModuleRuntime, UnhandledQueueError
from bootstrap.queues import QueueHandles
from bootstrap.settings import WorkerSettings
from domain.queue.context import Handler


class HandlerTable:
    """Every enabled module's handlers by job name, and the registry each queue's worker uses."""

    def __init__(self, job_types: JobTypes, catalog: ModuleCatalog, runtime: ModuleRuntime) -> None:
        self.job_types = job_types
        self.catalog = catalog
        self.handlers: dict[str, Handler] = runtime.handlers()

    def handled_queues(self) -> list[str]:
        """The queues at least one enabled module's handler runs on (what ``backbone worker`` runs)."""
        return sorted({queue for name in self.handlers if (queue := self.catalog.route(name)) is not None})

    def check_handled(self, queue: str) -> None:
        if queue not in self.handled_queues():
            raise UnhandledQueueError(queue, self.handled_queues())

    def registry_for(self, queue: str) -> HandlerRegistry:
        """The handlers of the jobs routed to ``queue``; ``UnhandledQueueError`` when there are none."""
        self.check_handled(queue)
        routed = {name: h for name, h in self.handlers.items() if self.catalog.route(name) == queue}
        return HandlerRegistry(self.catalog.job_types_for(queue), routed)


class WorkerFactory:
    """Builds a ``Worker`` for a queue: concurrency and rate limit from the topology, the rest from
    the worker settings; keyword overrides (CLI flags, the demo) win."""

    def __init__(
        self,
        queues: QueueHandles,
        handlers: HandlerTable,
        settings: WorkerSettings,
        hooks: Sequence[Hook] = (),
    ) -> None:
        self.queues = queues
        self.handlers = handlers
        self.settings = settings
        self.hooks = tuple(hooks)  # every worker built here reports to these (ADR 0016)

    def options_for(self, queue: str, **overrides: object) -> WorkerOptions:
        topology = self.queues.topology.for_queue(queue)
        values: dict[str, object] = {
            "concurrency": topology.concurrency,
            "limiter": topology.rate_limit,
            "tenancy": topology.tenancy,
            "lease_ms": self.settings.lease_ms,
            "shutdown_grace_ms": self.settings.shutdown_grace_ms,
            "prefetch": self.settings.prefetch,
            "block_ms": self.settings.block_ms,
            "unknown_job_delay_ms": self.settings.unknown_job_delay_ms,
            "unknown_job_max_hand_backs": self.settings.unknown_job_max_hand_backs,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return WorkerOptions(**values)  # type: ignore[arg-type]

    async def build(self, queue: str, **overrides: object) -> Worker:
        """A worker on the connected backend of ``queue``. Raises ``UnhandledQueueError`` when no
        enabled module handles ``queue``, ``BrokerUnavailableError`` when the broker is down."""
        registry = self.handlers.registry_for(queue)  # refused before any connection is made
        options = self.options_for(queue, **overrides)
        backend = await self.queues.open(queue)
        return Worker(backend, registry, options, hooks=self.hooks, encryption=self.queues.encryption)
