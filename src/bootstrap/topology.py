"""Queue topology: per queue, how many jobs run at once and the job defaults.

The enabled modules declare their queues' topology (``QueueSpec`` in each module's declaration,
ADR 0014). Settings may override any field per queue, or add a queue
(``BACKBONE_QUEUES__NOTIFICATION_EMAIL__CONCURRENCY`` does not work because of the dashes: use the
config file's ``[queues.notification-email]`` table). A queue no module declares gets the seed 002
generic default. ``docs/configuration.md`` lists the sample modules' numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bootstrap.settings import QueueOverride
from domain.queue.module import DomainModule, QueueSpec
from domain.queue.naming import validate_queue_name
from domain.queue.options import Backoff, BackoffType, KeepJobs, QueueDefaults, RateLimit
from domain.queue.tenancy import TenantPolicy

if TYPE_CHECKING:
    from bootstrap.modules import ModuleCatalog


@dataclass(frozen=True, slots=True)
class QueueTopology:
    """One queue's runtime shape: worker concurrency, job defaults, optional rate limit."""

    name: str
    concurrency: int
    defaults: QueueDefaults
    rate_limit: RateLimit | None = None
    tenancy: TenantPolicy | None = None
    source: str = "generic default (seed 002)"

    def renamed(self, name: str) -> QueueTopology:
        return dataclasses.replace(self, name=validate_queue_name(name))

    def overridden(self, override: QueueOverride) -> QueueTopology:
        defaults = self.defaults
        if override.attempts is not None:
            defaults = dataclasses.replace(defaults, attempts=override.attempts)
        if override.backoff is not None:
            current = defaults.backoff
            b = override.backoff
            backoff = Backoff(
                type=BackoffType(b.type) if b.type is not None else current.type,
                delay=b.delay_ms if b.delay_ms is not None else current.delay,
                max_delay=b.max_delay_ms if b.max_delay_ms is not None else current.max_delay,
                jitter=b.jitter if b.jitter is not None else current.jitter,
            ).validate(f"queues.{self.name}.backoff")
            defaults = dataclasses.replace(defaults, backoff=backoff)
        if override.timeout_ms is not None:
            defaults = dataclasses.replace(defaults, timeout=override.timeout_ms)
        if override.keep_completed is not None:
            defaults = dataclasses.replace(
                defaults, remove_on_complete=KeepJobs(count=override.keep_completed)
            )
        if override.keep_failed_ms is not None:
            defaults = dataclasses.replace(defaults, remove_on_fail=KeepJobs(age=override.keep_failed_ms))
        if override.keep_logs is not None:
            defaults = dataclasses.replace(defaults, keep_logs=override.keep_logs)
        rate_limit = self.rate_limit
        if override.rate_limit is not None:
            rate_limit = RateLimit(override.rate_limit.max, override.rate_limit.duration_ms).validate()
        tenancy = self.tenancy
        if override.tenancy is not None:
            t = override.tenancy
            policy = TenantPolicy(t.max_active, t.max_starts, t.window_ms, tuple(t.weights.items()))
            tenancy = policy.validate(f"queues.{self.name}.tenancy")
        return dataclasses.replace(
            self,
            concurrency=override.concurrency if override.concurrency is not None else self.concurrency,
            defaults=defaults,
            rate_limit=rate_limit,
            tenancy=tenancy,
            source=f"{self.source} + settings",
        )


# Seed 002: QUEUE_CONCURRENCY=10; its job defaults are QueueDefaults() itself (the one generic
# default a JobFactory without a table gets too, ADR 0018).
GENERIC_DEFAULT = QueueTopology(name="generic-default", concurrency=10, defaults=QueueDefaults())


def from_spec(spec: QueueSpec, module: str) -> QueueTopology:
    return QueueTopology(
        name=spec.name,
        concurrency=spec.concurrency,
        defaults=spec.defaults,
        rate_limit=spec.rate_limit,
        tenancy=spec.tenancy,
        source=f"module {module}",
    )


class Topology:
    """Every known queue's ``QueueTopology``; unknown names get the generic default."""

    def __init__(self, queues: Iterable[QueueTopology] = ()) -> None:
        self._queues = {queue.name: queue for queue in queues}

    @classmethod
    def of_modules(cls, modules: Iterable[DomainModule]) -> Topology:
        """The queues the modules declare, each with its module's topology."""
        return cls(from_spec(spec, module.name) for module in modules for spec in module.queues)

    @classmethod
    def from_modules(cls, catalog: ModuleCatalog, overrides: Mapping[str, QueueOverride]) -> Topology:
        """The enabled modules' queues with the settings' ``overrides`` applied; an override may add a
        queue no module declares."""
        base = cls.of_modules(catalog.modules)
        queues = dict(base._queues)
        for name, override in overrides.items():
            queues[name] = base.for_queue(name).overridden(override)
        return cls(queues.values())

    def for_queue(self, name: str) -> QueueTopology:
        known = self._queues.get(name)
        return known if known is not None else GENERIC_DEFAULT.renamed(name)

    def names(self) -> list[str]:
        return sorted(self._queues)

    def __contains__(self, name: object) -> bool:
        return name in self._queues

    def table(self) -> list[QueueTopology]:
        return [self._queues[name] for name in self.names()]
