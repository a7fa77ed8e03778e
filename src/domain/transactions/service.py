"""``TransactionQueueService``: how the transactions module enqueues its jobs (seed 002 options)."""

from __future__ import annotations

import dataclasses
import logging

from domain.queue.job import Job
from domain.queue.metadata import JobMetadata
from domain.queue.options import Backoff, BackoffType, JobOptions
from domain.queue.port import IGenericQueue
from domain.queue.priority import Priority
from domain.transactions.jobs import (
    REFUND_JOB,
    SETTLEMENT_JOB,
    TRANSACTION_PROCESSING_QUEUE,
    VALIDATION_JOB,
    RefundTransaction,
    SettleTransaction,
    ValidateTransaction,
)

logger = logging.getLogger(__name__)

SOURCE = "transaction-service"
SETTLEMENT_OPTIONS = JobOptions(
    attempts=5, priority=Priority.HIGH, backoff=Backoff(type=BackoffType.EXPONENTIAL, delay=5000)
)
VALIDATION_OPTIONS = JobOptions(attempts=2, priority=Priority.NORMAL)
REFUND_OPTIONS = JobOptions(attempts=3, priority=Priority.HIGH)


def _with_id(options: JobOptions, job_id: str, *, delay: int = 0) -> JobOptions:
    return dataclasses.replace(options, job_id=job_id, idempotency_key=job_id, delay=delay)


class TransactionQueueService:
    """Enqueues settlement, validation and refund jobs on ``transaction-processing``.

    Job ids are ``settlement-{tx_id}``, ``validation-{tx_id}`` and ``refund-{tx_id}`` unless the
    caller passes one, so a replayed event or a double click enqueues nothing new. Unlike seed 002
    the correlation id is never used as the job id: one correlation id spans several jobs of a flow
    (a payment's settlement and validation would then collide on this one queue). The job id is
    also the idempotency key, so the dedup outlives the job's removal by the retention policy for
    the key's TTL (24 h by default).
    """

    def __init__(self, queue: IGenericQueue) -> None:
        if queue.name != TRANSACTION_PROCESSING_QUEUE:
            raise ValueError(
                f"TransactionQueueService needs queue {TRANSACTION_PROCESSING_QUEUE!r}, got {queue.name!r}"
            )
        self._queue = queue

    async def enqueue_settlement(
        self,
        data: SettleTransaction,
        metadata: JobMetadata,
        *,
        job_id: str | None = None,
        delay_ms: int = 0,
    ) -> Job:
        """Settle ``data.tx_id``; ``delay_ms`` holds the job until the settlement is due."""
        options = _with_id(SETTLEMENT_OPTIONS, job_id or f"settlement-{data.tx_id}", delay=delay_ms)
        return await self._enqueue(SETTLEMENT_JOB, data, options, metadata)

    async def enqueue_validation(
        self, data: ValidateTransaction, metadata: JobMetadata, *, job_id: str | None = None
    ) -> Job:
        options = _with_id(VALIDATION_OPTIONS, job_id or f"validation-{data.tx_id}")
        return await self._enqueue(VALIDATION_JOB, data, options, metadata)

    async def enqueue_refund(
        self, data: RefundTransaction, metadata: JobMetadata, *, job_id: str | None = None
    ) -> Job:
        options = _with_id(REFUND_OPTIONS, job_id or f"refund-{data.tx_id}")
        return await self._enqueue(REFUND_JOB, data, options, metadata)

    async def _enqueue(
        self,
        name: str,
        data: SettleTransaction | ValidateTransaction | RefundTransaction,
        options: JobOptions,
        metadata: JobMetadata,
    ) -> Job:
        if metadata.source is None:
            metadata = dataclasses.replace(metadata, source=SOURCE)
        job = await self._queue.add(name, data.model_dump(mode="json"), options, metadata)
        logger.info(
            "enqueued %s for transaction %s: job_id=%s queue=%s correlation_id=%s deduplicated=%s",
            name,
            data.tx_id,
            job.id,
            self._queue.name,
            job.metadata.correlation_id,
            job.deduplicated,
        )
        return job
