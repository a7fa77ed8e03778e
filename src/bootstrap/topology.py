"""Queue topology: per queue, how many jobs run at once and the job defaults (the seeds' tables).

One table, documented in ``docs/configuration.md``. Settings may override any field per queue
(``BACKBONE_QUEUES__NOTIFICATION_EMAIL__CONCURRENCY`` does not work because of the dashes: use the
config file's ``[queues.notification-email]`` table). A queue not in the table gets the seed 002
generic default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bootstrap.settings import QueueOverride
from domain.queue.naming import validate_queue_name
from domain.queue.options import DAY_MS, Backoff, BackoffType, KeepJobs, QueueDefaults, RateLimit

SECOND = 1000
MINUTE = 60 * SECOND


@dataclass(frozen=True, slots=True)
class QueueTopology:
    """One queue's runtime shape: worker concurrency, job defaults, optional rate limit."""

    name: str
    concurrency: int
    defaults: QueueDefaults
    rate_limit: RateLimit | None = None
    source: str = "seed 002 generic default"

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
        rate_limit = self.rate_limit
        if override.rate_limit is not None:
            rate_limit = RateLimit(override.rate_limit.max, override.rate_limit.duration_ms).validate()
        return dataclasses.replace(
            self,
            concurrency=override.concurrency if override.concurrency is not None else self.concurrency,
            defaults=defaults,
            rate_limit=rate_limit,
            source=f"{self.source} + settings",
        )


def _queue(
    name: str,
    concurrency: int,
    attempts: int,
    delay: int,
    timeout: int,
    *,
    source: str,
    kind: BackoffType = BackoffType.EXPONENTIAL,
    max_delay: int | None,
    jitter: float,
    keep_completed: int,
    keep_failed_ms: int,
) -> QueueTopology:
    return QueueTopology(
        name=name,
        concurrency=concurrency,
        defaults=QueueDefaults(
            attempts=attempts,
            backoff=Backoff(type=kind, delay=delay, max_delay=max_delay, jitter=jitter),
            timeout=timeout,
            remove_on_complete=KeepJobs(count=keep_completed),
            remove_on_fail=KeepJobs(age=keep_failed_ms),
        ),
        source=source,
    )


def _seed_001(name: str, concurrency: int, attempts: int, delay: int, timeout: int) -> QueueTopology:
    # Seed 001: exponential, cap 300 s, +-25 % jitter; keep the last 100 completed; DLQ kept 30 days.
    # Timeouts from seed 000's getJobTimeout (webhook 30 s, flow 2 min, api call 1 min, ...).
    return _queue(
        name, concurrency, attempts, delay, timeout,
        source="seeds 000/001", max_delay=5 * MINUTE, jitter=0.25,
        keep_completed=100, keep_failed_ms=30 * DAY_MS,
    )  # fmt: skip


def _seed_002(name: str) -> QueueTopology:
    # Seed 002: QUEUE_CONCURRENCY=10; its job defaults are QueueDefaults() itself (the one generic
    # default a JobFactory without a table gets too).
    return QueueTopology(name=name, concurrency=10, defaults=QueueDefaults(), source="seed 002")


def _seed_003(
    name: str,
    concurrency: int,
    attempts: int,
    delay: int,
    timeout: int,
    kind: BackoffType = BackoffType.EXPONENTIAL,
) -> QueueTopology:
    # Seed 003: exact progressions (2 s -> 4 s -> 8 s), failed jobs kept 7 days.
    return _queue(
        name, concurrency, attempts, delay, timeout,
        source="seed 003", kind=kind, max_delay=None, jitter=0.0,
        keep_completed=100, keep_failed_ms=7 * DAY_MS,
    )  # fmt: skip


SEED_QUEUES: tuple[QueueTopology, ...] = (
    _seed_001("ingress-events", 20, 5, 2 * SECOND, 30 * SECOND),
    _seed_001("orchestration-flows", 15, 3, 5 * SECOND, 2 * MINUTE),
    _seed_001("integration-tasks", 10, 7, 10 * SECOND, 1 * MINUTE),
    _seed_001("notifications", 8, 5, 30 * SECOND, 30 * SECOND),
    _seed_001("analytics-events", 5, 3, 60 * SECOND, 5 * MINUTE),
    _seed_002("transaction-processing"),
    _seed_002("transaction-settlement"),
    _seed_002("notification-email"),
    _seed_002("notification-sms"),
    _seed_002("notification-push"),
    _seed_002("slack-messages"),
    _seed_002("slack-alerts"),
    _seed_002("data-processing"),
    _seed_002("file-processing"),
    _seed_003("message-delivery", 10, 5, 2 * SECOND, 30 * SECOND),
    _seed_003("message-notification", 15, 3, 1 * SECOND, 20 * SECOND),
    _seed_003("message-indexing", 3, 3, 3 * SECOND, 60 * SECOND),
    _seed_003("message-encryption", 5, 3, 2 * SECOND, 45 * SECOND),
    _seed_003("batch-message-sending", 2, 3, 5 * SECOND, 5 * MINUTE),
    _seed_003("message-cleanup", 1, 2, 10 * SECOND, 10 * MINUTE, BackoffType.FIXED),
)

GENERIC_DEFAULT = _seed_002("generic-default")


class Topology:
    """Every known queue's ``QueueTopology``; unknown names get the generic default."""

    def __init__(self, queues: Iterable[QueueTopology] = SEED_QUEUES) -> None:
        self._queues = {queue.name: queue for queue in queues}

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, QueueOverride]) -> Topology:
        """The seed table with ``overrides`` applied; an override may add a new queue."""
        base = cls()
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
