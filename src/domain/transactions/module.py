"""The transactions module's declaration: its queue, job types, handlers and service (ADR 0014).

Enabled by ``domain.transactions.module:MODULE`` in ``[app] modules``. The handlers need a
``TransactionLedger`` that the composition root provides under ``transaction_ledger``.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.queue.context import Handler
from domain.queue.module import DomainModule, JobSpec, ModuleContext, QueueSpec
from domain.queue.options import DAY_MS, Backoff, KeepJobs, QueueDefaults
from domain.transactions.handlers import build_handlers
from domain.transactions.jobs import JOB_MODELS, TRANSACTION_PROCESSING_QUEUE
from domain.transactions.ports import TransactionLedger
from domain.transactions.service import TransactionQueueService

# Seed 002: QUEUE_CONCURRENCY=10, QUEUE_RETRY_CONFIG (5 attempts, exponential from 2 s, cap 15 min,
# jitter), QUEUE_DEFAULT_TIMEOUT=30 s, removeOnComplete 50; dead letters kept 30 days (seed 001).
SEED_002_DEFAULTS = QueueDefaults(
    attempts=5,
    backoff=Backoff(delay=2000, max_delay=15 * 60 * 1000, jitter=0.25),
    timeout=30_000,
    remove_on_complete=KeepJobs(count=50),
    remove_on_fail=KeepJobs(age=30 * DAY_MS),
)


def _handlers(ctx: ModuleContext) -> Mapping[str, Handler]:
    return build_handlers(ctx.dependency("transaction_ledger", TransactionLedger), clock=ctx.clock)


def _service(ctx: ModuleContext) -> TransactionQueueService:
    return TransactionQueueService(ctx.queue(TRANSACTION_PROCESSING_QUEUE))


MODULE = DomainModule(
    name="transactions",
    queues=[QueueSpec(TRANSACTION_PROCESSING_QUEUE, concurrency=10, defaults=SEED_002_DEFAULTS)],
    jobs=[JobSpec(name, model, TRANSACTION_PROCESSING_QUEUE) for name, model in JOB_MODELS.items()],
    handlers=_handlers,
    services={TransactionQueueService: _service},
)
