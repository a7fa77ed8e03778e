"""``NotificationQueueService``: how the notifications module enqueues its jobs (seeds 002, 003)."""

from __future__ import annotations

import dataclasses
import logging

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
from domain.queue.job import Job
from domain.queue.metadata import JobMetadata
from domain.queue.options import Backoff, BackoffType, JobOptions
from domain.queue.port import IGenericQueue
from domain.queue.priority import Priority

logger = logging.getLogger(__name__)

SOURCE = "notification-service"
# Seed 003: notifications retry 3 times from 1 s; batch sending 3 times from 5 s with a 5 min timeout.
MESSAGE_OPTIONS = JobOptions(attempts=3, backoff=Backoff(type=BackoffType.EXPONENTIAL, delay=1000))
BROADCAST_OPTIONS = JobOptions(
    attempts=3, backoff=Backoff(type=BackoffType.EXPONENTIAL, delay=5000), timeout=5 * 60 * 1000
)


def _check_queue(queue: IGenericQueue, expected: str) -> IGenericQueue:
    if queue.name != expected:
        raise ValueError(f"NotificationQueueService needs queue {expected!r}, got {queue.name!r}")
    return queue


class NotificationQueueService:
    """Enqueues email, SMS, push and broadcast jobs, each on its own queue.

    Job ids are ``email-{notification_id}`` (``sms-``, ``push-``, ``broadcast-{broadcast_id}``):
    the caller names the notification, so enqueueing the same one twice (a replayed event) sends
    it once. Seed 002 used ``Date.now()`` ids, which make every retry of the caller a new message.
    The job id is also the idempotency key, so the dedup outlives the job's removal by retention
    for the key's TTL (24 h by default).
    """

    def __init__(
        self,
        *,
        email_queue: IGenericQueue,
        sms_queue: IGenericQueue,
        push_queue: IGenericQueue,
        broadcast_queue: IGenericQueue,
    ) -> None:
        self._email = _check_queue(email_queue, EMAIL_QUEUE)
        self._sms = _check_queue(sms_queue, SMS_QUEUE)
        self._push = _check_queue(push_queue, PUSH_QUEUE)
        self._broadcast = _check_queue(broadcast_queue, BROADCAST_QUEUE)

    async def enqueue_email(
        self, data: SendEmail, metadata: JobMetadata, *, priority: int = Priority.NORMAL, delay_ms: int = 0
    ) -> Job:
        options = _message_options(f"email-{data.notification_id}", priority, delay_ms)
        return await self._enqueue(self._email, EMAIL_JOB, data, options, metadata)

    async def enqueue_sms(
        self, data: SendSms, metadata: JobMetadata, *, priority: int = Priority.NORMAL, delay_ms: int = 0
    ) -> Job:
        options = _message_options(f"sms-{data.notification_id}", priority, delay_ms)
        return await self._enqueue(self._sms, SMS_JOB, data, options, metadata)

    async def enqueue_push(
        self, data: SendPush, metadata: JobMetadata, *, priority: int = Priority.NORMAL, delay_ms: int = 0
    ) -> Job:
        options = _message_options(f"push-{data.notification_id}", priority, delay_ms)
        return await self._enqueue(self._push, PUSH_JOB, data, options, metadata)

    async def enqueue_broadcast(
        self, data: SendBroadcast, metadata: JobMetadata, *, priority: int = Priority.LOW
    ) -> Job:
        options = dataclasses.replace(
            BROADCAST_OPTIONS,
            job_id=f"broadcast-{data.broadcast_id}",
            idempotency_key=f"broadcast-{data.broadcast_id}",
            priority=priority,
        )
        return await self._enqueue(self._broadcast, BROADCAST_JOB, data, options, metadata)

    async def _enqueue(
        self,
        queue: IGenericQueue,
        name: str,
        data: SendEmail | SendSms | SendPush | SendBroadcast,
        options: JobOptions,
        metadata: JobMetadata,
    ) -> Job:
        if metadata.source is None:
            metadata = dataclasses.replace(metadata, source=SOURCE)
        job = await queue.add(name, data.model_dump(mode="json"), options, metadata)
        logger.info(
            "enqueued %s: job_id=%s queue=%s correlation_id=%s deduplicated=%s",
            name,
            job.id,
            queue.name,
            job.metadata.correlation_id,
            job.deduplicated,
        )
        return job


def _message_options(job_id: str, priority: int, delay_ms: int) -> JobOptions:
    """One message per notification id: the id is the job id and the idempotency key (module docstring)."""
    return dataclasses.replace(
        MESSAGE_OPTIONS, job_id=job_id, idempotency_key=job_id, priority=priority, delay=delay_ms
    )
