"""The messages module's declaration (ADR 0014): seed 003's ``message-cleanup`` queue, its job and
its nightly schedule (``0 2 * * *``, ADR 0020).

Enabled by ``domain.messages.module:MODULE`` in ``[app] modules``. The handler needs the
``MessageStore`` the composition root provides under ``message_store``.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.messages.handlers import build_handlers
from domain.messages.jobs import CLEANUP_JOB, CLEANUP_QUEUE, CleanupMessages
from domain.messages.ports import MessageStore
from domain.queue.context import Handler
from domain.queue.module import DomainModule, JobSpec, ModuleContext, QueueSpec
from domain.queue.options import DAY_MS, Backoff, BackoffType, KeepJobs, QueueDefaults
from domain.queue.schedule import Schedule

# Seed 003: one worker (sequential), 2 attempts, fixed 10 s backoff, 10 minute timeout.
SEED_003_CLEANUP_DEFAULTS = QueueDefaults(
    attempts=2,
    backoff=Backoff(type=BackoffType.FIXED, delay=10_000, max_delay=None, jitter=0.0),
    timeout=10 * 60 * 1000,
    remove_on_complete=KeepJobs(count=50),
    remove_on_fail=KeepJobs(age=30 * DAY_MS),
)

NIGHTLY_CLEANUP = Schedule(
    name="message-cleanup",
    job=CLEANUP_JOB,
    data={"cleanup_type": "old_messages", "retention_days": 90, "batch_size": 1000},
    cron="0 2 * * *",  # seed 003: 2 AM daily
    timezone="UTC",
)


def _handlers(ctx: ModuleContext) -> Mapping[str, Handler]:
    return build_handlers(ctx.dependency("message_store", MessageStore), ctx.clock)


MODULE = DomainModule(
    name="messages",
    queues=[QueueSpec(CLEANUP_QUEUE, concurrency=1, defaults=SEED_003_CLEANUP_DEFAULTS)],
    jobs=[JobSpec(CLEANUP_JOB, CleanupMessages, CLEANUP_QUEUE)],
    handlers=_handlers,
    schedules=[NIGHTLY_CLEANUP],
)
