"""The slack module's declaration: its queues, job types, handlers and service (ADR 0014).

Enabled by ``domain.slack.module:MODULE`` in ``[app] modules``. The handlers need the
``SlackClient`` the composition root provides under ``slack_client`` and the alerts channel under
``slack_alerts_channel``.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.queue.context import Handler
from domain.queue.module import DomainModule, JobSpec, ModuleContext, QueueSpec
from domain.queue.options import DAY_MS, Backoff, KeepJobs, QueueDefaults
from domain.slack.handlers import build_handlers
from domain.slack.jobs import (
    ALERT_JOB,
    ALERTS_QUEUE,
    CHANNEL_MESSAGE_JOB,
    MESSAGES_QUEUE,
    SendSlackAlert,
    SendSlackMessage,
)
from domain.slack.ports import SlackClient
from domain.slack.service import SlackQueueService

# Seed 002: concurrency 10, 5 attempts, exponential from 2 s, cap 15 min, jitter, 30 s timeout,
# keep the last 50 completed; dead letters kept 30 days (seed 001).
SEED_002_DEFAULTS = QueueDefaults(
    attempts=5,
    backoff=Backoff(delay=2000, max_delay=15 * 60 * 1000, jitter=0.25),
    timeout=30_000,
    remove_on_complete=KeepJobs(count=50),
    remove_on_fail=KeepJobs(age=30 * DAY_MS),
)


def _handlers(ctx: ModuleContext) -> Mapping[str, Handler]:
    return build_handlers(
        ctx.dependency("slack_client", SlackClient), ctx.dependency("slack_alerts_channel", str)
    )


def _service(ctx: ModuleContext) -> SlackQueueService:
    return SlackQueueService(messages_queue=ctx.queue(MESSAGES_QUEUE), alerts_queue=ctx.queue(ALERTS_QUEUE))


API_CALL_TIMEOUT_MS = 60_000  # seed 000: 'api-call' 1 minute

MODULE = DomainModule(
    name="slack",
    queues=[
        QueueSpec(MESSAGES_QUEUE, concurrency=10, defaults=SEED_002_DEFAULTS),
        QueueSpec(ALERTS_QUEUE, concurrency=10, defaults=SEED_002_DEFAULTS),
    ],
    jobs=[
        # seed 000's per-job-type timeouts: a Slack post is an 'api-call', 1 minute (ADR 0022)
        JobSpec(CHANNEL_MESSAGE_JOB, SendSlackMessage, MESSAGES_QUEUE, timeout=API_CALL_TIMEOUT_MS),
        JobSpec(ALERT_JOB, SendSlackAlert, ALERTS_QUEUE, timeout=API_CALL_TIMEOUT_MS),
    ],
    handlers=_handlers,
    services={SlackQueueService: _service},
)
