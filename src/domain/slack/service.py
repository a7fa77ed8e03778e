"""``SlackQueueService``: how the slack module enqueues messages and alerts (seed 002 options)."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from domain.queue.idempotency import idempotency_key
from domain.queue.job import Job
from domain.queue.metadata import JobMetadata
from domain.queue.options import Backoff, BackoffType, JobOptions
from domain.queue.port import IGenericQueue
from domain.queue.priority import Priority
from domain.slack.jobs import (
    ALERT_JOB,
    ALERTS_QUEUE,
    CHANNEL_MESSAGE_JOB,
    MESSAGES_QUEUE,
    SendSlackAlert,
    SendSlackMessage,
)

logger = logging.getLogger(__name__)

SOURCE = "slack-service"
MESSAGE_ATTEMPTS = 3
ALERT_OPTIONS = JobOptions(
    attempts=5, priority=Priority.CRITICAL, backoff=Backoff(type=BackoffType.EXPONENTIAL, delay=1000)
)


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


def _check_queue(queue: IGenericQueue, expected: str) -> IGenericQueue:
    if queue.name != expected:
        raise ValueError(f"SlackQueueService needs queue {expected!r}, got {queue.name!r}")
    return queue


class SlackQueueService:
    """Enqueues channel messages on ``slack-messages`` and alerts on ``slack-alerts``.

    Seed 002 used ``slack-{channel}-{Date.now()}`` and ``alert-{type}-{Date.now()}`` as job ids:
    every call is then a new job, so a replayed event posts twice. Here an alert with a
    ``dedup_key`` gets the id ``alert-{type}-{dedup_key}`` (once while the job exists, and for the
    idempotency TTL after it is removed), and everything else gets
    the seeds' idempotency key ``{tenant}:{job}:{content hash}:{5-minute window}``, so the same
    message enqueued twice within the window is posted once.
    """

    def __init__(
        self,
        *,
        messages_queue: IGenericQueue,
        alerts_queue: IGenericQueue,
        clock: Callable[[], int] = _epoch_ms,
    ) -> None:
        self._messages = _check_queue(messages_queue, MESSAGES_QUEUE)
        self._alerts = _check_queue(alerts_queue, ALERTS_QUEUE)
        self._clock = clock

    async def send_channel_message(self, data: SendSlackMessage, metadata: JobMetadata) -> Job:
        options = JobOptions(
            attempts=MESSAGE_ATTEMPTS,
            priority=Priority.HIGH if data.urgent else Priority.NORMAL,
            idempotency_key=self._content_key(CHANNEL_MESSAGE_JOB, data, metadata),
        )
        return await self._enqueue(self._messages, CHANNEL_MESSAGE_JOB, data, options, metadata)

    async def send_alert(self, data: SendSlackAlert, metadata: JobMetadata) -> Job:
        if data.dedup_key is not None:
            alert_id = f"alert-{data.alert_type}-{data.dedup_key}"
            options = dataclasses.replace(ALERT_OPTIONS, job_id=alert_id, idempotency_key=alert_id)
        else:
            options = dataclasses.replace(
                ALERT_OPTIONS, idempotency_key=self._content_key(ALERT_JOB, data, metadata)
            )
        return await self._enqueue(self._alerts, ALERT_JOB, data, options, metadata)

    def _content_key(
        self, job_name: str, data: SendSlackMessage | SendSlackAlert, metadata: JobMetadata
    ) -> str:
        tenant = metadata.tenant_id or (metadata.user.tenant if metadata.user else None) or "global"
        return idempotency_key(tenant, job_name, data.model_dump(mode="json"), self._clock())

    async def _enqueue(
        self,
        queue: IGenericQueue,
        name: str,
        data: SendSlackMessage | SendSlackAlert,
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
