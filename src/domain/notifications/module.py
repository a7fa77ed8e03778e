"""The notifications module's declaration: its queues, job types, handlers and service (ADR 0014).

Enabled by ``domain.notifications.module:MODULE`` in ``[app] modules``. The handlers need the
senders the composition root provides under ``email_sender``, ``sms_sender`` and ``push_sender``.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.notifications.handlers import build_handlers
from domain.notifications.jobs import (
    BROADCAST_JOB,
    BROADCAST_QUEUE,
    EMAIL_JOB,
    EMAIL_QUEUE,
    PUSH_JOB,
    PUSH_QUEUE,
    SMS_JOB,
    SMS_QUEUE,
    SendBroadcast,
    SendEmail,
    SendPush,
    SendSms,
)
from domain.notifications.ports import EmailSender, PushSender, SmsSender
from domain.notifications.service import NotificationQueueService
from domain.queue.context import Handler
from domain.queue.module import DomainModule, JobSpec, ModuleContext, QueueSpec
from domain.queue.options import DAY_MS, Backoff, KeepJobs, QueueDefaults

# Seed 002: concurrency 10, 5 attempts, exponential from 2 s, cap 15 min, jitter, 30 s timeout,
# keep the last 50 completed; dead letters kept 30 days (seed 001).
SEED_002_DEFAULTS = QueueDefaults(
    attempts=5,
    backoff=Backoff(delay=2000, max_delay=15 * 60 * 1000, jitter=0.25),
    timeout=30_000,
    remove_on_complete=KeepJobs(count=50),
    remove_on_fail=KeepJobs(age=30 * DAY_MS),
)
NOTIFICATION_SEND_TIMEOUT_MS = 30_000  # seed 000: 'notification-send' 30 s

# Seed 003 batch-message-sending: 2 at a time, 3 attempts from 5 s (exact), 5 min timeout, failed
# jobs kept 7 days.
BATCH_DEFAULTS = QueueDefaults(
    attempts=3,
    backoff=Backoff(delay=5000, max_delay=None, jitter=0.0),
    timeout=5 * 60 * 1000,
    remove_on_complete=KeepJobs(count=100),
    remove_on_fail=KeepJobs(age=7 * DAY_MS),
)


def _handlers(ctx: ModuleContext) -> Mapping[str, Handler]:
    return build_handlers(
        ctx.dependency("email_sender", EmailSender),
        ctx.dependency("sms_sender", SmsSender),
        ctx.dependency("push_sender", PushSender),
    )


def _service(ctx: ModuleContext) -> NotificationQueueService:
    return NotificationQueueService(
        email_queue=ctx.queue(EMAIL_QUEUE),
        sms_queue=ctx.queue(SMS_QUEUE),
        push_queue=ctx.queue(PUSH_QUEUE),
        broadcast_queue=ctx.queue(BROADCAST_QUEUE),
    )


MODULE = DomainModule(
    name="notifications",
    queues=[
        QueueSpec(EMAIL_QUEUE, concurrency=10, defaults=SEED_002_DEFAULTS),
        QueueSpec(SMS_QUEUE, concurrency=10, defaults=SEED_002_DEFAULTS),
        QueueSpec(PUSH_QUEUE, concurrency=10, defaults=SEED_002_DEFAULTS),
        QueueSpec(BROADCAST_QUEUE, concurrency=2, defaults=BATCH_DEFAULTS),
    ],
    jobs=[
        # seed 000's per-job-type timeouts: 'notification-send' 30 s (ADR 0022)
        JobSpec(EMAIL_JOB, SendEmail, EMAIL_QUEUE, timeout=NOTIFICATION_SEND_TIMEOUT_MS),
        JobSpec(SMS_JOB, SendSms, SMS_QUEUE, timeout=NOTIFICATION_SEND_TIMEOUT_MS),
        JobSpec(PUSH_JOB, SendPush, PUSH_QUEUE, timeout=NOTIFICATION_SEND_TIMEOUT_MS),
        JobSpec(BROADCAST_JOB, SendBroadcast, BROADCAST_QUEUE),
    ],
    handlers=_handlers,
    services={NotificationQueueService: _service},
)
