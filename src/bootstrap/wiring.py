"""What the container assembles beyond single objects: job types, job routes, handler registries,
and workers built from the topology.

Every job name has one queue (``JOB_ROUTES``, from the domain modules' constants). A queue's
handler registry holds the handlers of the jobs routed to it; a queue no job is routed to gets
every handler (it runs whatever is put on it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from application.hooks import Hook
from application.jobs.job_types import JobType, JobTypes
from application.worker import HandlerRegistry, Worker, WorkerOptions
from bootstrap.queues import QueueHandles
from bootstrap.settings import WorkerSettings
from domain.notifications import jobs as notification_jobs
from domain.queue.context import Handler
from domain.slack import jobs as slack_jobs
from domain.transactions import jobs as transaction_jobs

JOB_ROUTES: dict[str, str] = {
    transaction_jobs.SETTLEMENT_JOB: transaction_jobs.TRANSACTION_PROCESSING_QUEUE,
    transaction_jobs.VALIDATION_JOB: transaction_jobs.TRANSACTION_PROCESSING_QUEUE,
    transaction_jobs.REFUND_JOB: transaction_jobs.TRANSACTION_PROCESSING_QUEUE,
    notification_jobs.EMAIL_JOB: notification_jobs.EMAIL_QUEUE,
    notification_jobs.SMS_JOB: notification_jobs.SMS_QUEUE,
    notification_jobs.PUSH_JOB: notification_jobs.PUSH_QUEUE,
    notification_jobs.BROADCAST_JOB: notification_jobs.BROADCAST_QUEUE,
    slack_jobs.CHANNEL_MESSAGE_JOB: slack_jobs.MESSAGES_QUEUE,
    slack_jobs.ALERT_JOB: slack_jobs.ALERTS_QUEUE,
}

# The queues the domain modules use: what ``backbone worker`` runs when no queue is named.
DOMAIN_QUEUES: tuple[str, ...] = tuple(sorted(set(JOB_ROUTES.values())))


def all_job_types() -> JobTypes:
    """Every domain module's ``JOB_MODELS`` in one strict registry."""
    types = JobTypes()
    for models in (transaction_jobs.JOB_MODELS, notification_jobs.JOB_MODELS, slack_jobs.JOB_MODELS):
        for name, model in models.items():
            types.register(name, model)
    return types


def job_types_with(extra: Mapping[str, JobType]) -> JobTypes:
    types = all_job_types()
    for job_type in extra.values():
        types.register(job_type.name, job_type.model)
    return types


class HandlerTable:
    """Every handler by job name, and the registry each queue's worker uses."""

    def __init__(self, job_types: JobTypes, *handler_sets: Mapping[str, Handler]) -> None:
        self.job_types = job_types
        self.handlers: dict[str, Handler] = {}
        for handlers in handler_sets:
            for name, handler in handlers.items():
                if name in self.handlers:
                    raise ValueError(f"two handlers for job {name!r}")
                self.handlers[name] = handler

    def registry_for(self, queue: str) -> HandlerRegistry:
        routed = {name: h for name, h in self.handlers.items() if JOB_ROUTES.get(name) == queue}
        return HandlerRegistry(self.job_types, routed or self.handlers)


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
        """A worker on the connected backend of ``queue`` (raises ``BrokerUnavailableError``)."""
        backend = await self.queues.open(queue)
        return Worker(
            backend, self.handlers.registry_for(queue), self.options_for(queue, **overrides), hooks=self.hooks
        )
