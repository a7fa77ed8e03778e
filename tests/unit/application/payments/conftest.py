"""Every queue of the payment flow on one memory broker, with the three domain services over them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from adapters.memory import MemoryBroker, MemoryQueue
from application.clock import ManualClock
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.payments import PaymentCompletedHandler
from domain.notifications import jobs as notification_jobs
from domain.notifications.service import NotificationQueueService
from domain.queue.options import QueueDefaults
from domain.slack import jobs as slack_jobs
from domain.slack.service import SlackQueueService
from domain.transactions import jobs as transaction_jobs
from domain.transactions.service import TransactionQueueService


@dataclass
class PaymentWorld:
    clock: ManualClock
    queues: dict[str, MemoryQueue]
    handler: PaymentCompletedHandler
    job_types: JobTypes

    async def jobs_on(self, queue: str) -> int:
        return (await self.queues[queue].get_stats()).total


@pytest.fixture
async def payment_world() -> AsyncIterator[PaymentWorld]:
    clock = ManualClock(start_ms=1_754_994_600_000)  # 2025-08-12T10:30:00Z, the seed's occurredAt
    broker = MemoryBroker(clock)
    job_types = JobTypes()
    for models in (notification_jobs.JOB_MODELS, slack_jobs.JOB_MODELS, transaction_jobs.JOB_MODELS):
        for name, model in models.items():
            job_types.register(name, model)
    names = [
        notification_jobs.EMAIL_QUEUE,
        notification_jobs.SMS_QUEUE,
        notification_jobs.PUSH_QUEUE,
        notification_jobs.BROADCAST_QUEUE,
        slack_jobs.MESSAGES_QUEUE,
        slack_jobs.ALERTS_QUEUE,
        transaction_jobs.TRANSACTION_PROCESSING_QUEUE,
    ]
    queues = {name: broker.queue(JobFactory(name, job_types, QueueDefaults())) for name in names}
    handler = PaymentCompletedHandler(
        NotificationQueueService(
            email_queue=queues[notification_jobs.EMAIL_QUEUE],
            sms_queue=queues[notification_jobs.SMS_QUEUE],
            push_queue=queues[notification_jobs.PUSH_QUEUE],
            broadcast_queue=queues[notification_jobs.BROADCAST_QUEUE],
        ),
        SlackQueueService(
            messages_queue=queues[slack_jobs.MESSAGES_QUEUE],
            alerts_queue=queues[slack_jobs.ALERTS_QUEUE],
            clock=clock,
        ),
        TransactionQueueService(queues[transaction_jobs.TRANSACTION_PROCESSING_QUEUE]),
        clock,
    )
    yield PaymentWorld(clock, queues, handler, job_types)
    await broker.close()
