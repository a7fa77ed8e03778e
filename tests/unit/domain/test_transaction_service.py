"""``TransactionQueueService`` against the memory adapter: the options stored on the queue."""

from __future__ import annotations

import pytest

from adapters.outbound.ledgers import InMemoryLedger
from domain.queue.errors import InvalidPayloadError
from domain.queue.job import JobState
from domain.queue.metadata import JobMetadata, UserRef
from domain.queue.options import BackoffType
from domain.queue.priority import Priority
from domain.transactions.handlers import build_handlers
from domain.transactions.jobs import (
    JOB_MODELS,
    SETTLEMENT_JOB,
    TRANSACTION_PROCESSING_QUEUE,
    RefundTransaction,
    SettleTransaction,
    ValidateTransaction,
)
from domain.transactions.model import EntryKind
from domain.transactions.service import TransactionQueueService

META = JobMetadata(correlation_id="corr-7", tenant_id="org-acme", user=UserRef.system("org-acme"))


def settlement(tx_id: str = "tx-1") -> SettleTransaction:
    return SettleTransaction(tx_id=tx_id, amount_minor=12_345, currency="EUR", merchant_id="m-9")


@pytest.fixture
def world(world_for, manual_clock):
    return world_for(JOB_MODELS, manual_clock)


@pytest.fixture
def service(world) -> TransactionQueueService:
    return TransactionQueueService(world.queue(TRANSACTION_PROCESSING_QUEUE))


async def test_settlement_is_enqueued_high_priority_with_five_exponential_attempts(world, service) -> None:
    job = await service.enqueue_settlement(settlement(), META)

    stored = await world.queue(TRANSACTION_PROCESSING_QUEUE).get_job("settlement-tx-1")
    assert stored is not None and stored.id == job.id
    assert (stored.name, stored.state) == (SETTLEMENT_JOB, JobState.WAITING)
    assert (stored.options.priority, stored.options.attempts) == (Priority.HIGH, 5)
    assert (stored.options.backoff.type, stored.options.backoff.delay) == (BackoffType.EXPONENTIAL, 5000)
    assert stored.data == {
        "tx_id": "tx-1",
        "amount_minor": 12_345,
        "currency": "EUR",
        "merchant_id": "m-9",
        "merchant_name": None,
        "payment_method": None,
        "settlement_date": None,
    }


async def test_settlement_carries_the_callers_metadata_and_the_service_as_source(world, service) -> None:
    await service.enqueue_settlement(settlement(), META)

    stored = await world.queue(TRANSACTION_PROCESSING_QUEUE).get_job("settlement-tx-1")
    assert stored is not None
    assert (stored.metadata.correlation_id, stored.metadata.tenant_id) == ("corr-7", "org-acme")
    assert stored.metadata.user == UserRef.system("org-acme")
    assert stored.metadata.source == "transaction-service"


async def test_a_delayed_settlement_waits_in_the_delayed_state(world, service, manual_clock) -> None:
    await service.enqueue_settlement(settlement(), META, delay_ms=60_000)

    stored = await world.queue(TRANSACTION_PROCESSING_QUEUE).get_job("settlement-tx-1")
    assert stored is not None
    assert (stored.state, stored.options.delay) == (JobState.DELAYED, 60_000)


async def test_enqueueing_the_same_settlement_twice_stores_one_job(world, service) -> None:
    first = await service.enqueue_settlement(settlement(), META)
    second = await service.enqueue_settlement(settlement(), META)

    assert (second.id, second.deduplicated) == (first.id, True)
    assert (await world.queue(TRANSACTION_PROCESSING_QUEUE).get_stats()).total == 1


async def test_a_given_job_id_replaces_the_default_one(world, service) -> None:
    job = await service.enqueue_settlement(settlement(), META, job_id="settle-batch-2026-11-22-tx-1")

    assert job.id == "settle-batch-2026-11-22-tx-1"


async def test_validation_and_refund_get_their_seed_options_and_ids(world, service) -> None:
    validation = await service.enqueue_validation(
        ValidateTransaction(tx_id="tx-1", amount_minor=100, currency="USD", risk_score=0.3), META
    )
    refund = await service.enqueue_refund(
        RefundTransaction(tx_id="tx-1", amount_minor=100, currency="USD", reason="duplicate charge"), META
    )

    assert (validation.id, validation.options.attempts, validation.options.priority) == (
        "validation-tx-1",
        2,
        Priority.NORMAL,
    )
    assert (refund.id, refund.options.attempts, refund.options.priority) == ("refund-tx-1", 3, Priority.HIGH)


async def test_a_payload_that_breaks_its_model_is_refused_and_nothing_is_stored(world, service) -> None:
    queue = world.queue(TRANSACTION_PROCESSING_QUEUE)
    with pytest.raises(InvalidPayloadError):
        await queue.add(SETTLEMENT_JOB, {"tx_id": "tx-1", "amount_minor": -5, "currency": "usd"})

    assert (await queue.get_stats()).total == 0


def test_the_service_refuses_a_queue_with_another_name(world) -> None:
    with pytest.raises(ValueError, match="transaction-processing"):
        TransactionQueueService(world.queue("notification-email"))


async def test_an_enqueued_settlement_is_processed_by_a_worker_into_the_ledger(world_for) -> None:
    world = world_for(JOB_MODELS)
    ledger = InMemoryLedger()
    service = TransactionQueueService(world.queue(TRANSACTION_PROCESSING_QUEUE))
    job = await service.enqueue_settlement(settlement(), META)

    [done] = await world.drain(TRANSACTION_PROCESSING_QUEUE, build_handlers(ledger), [job.id])

    assert done.state is JobState.COMPLETED
    assert done.return_value == {"tx_id": "tx-1", "status": "settled", "recorded_by": "settlement-tx-1"}
    assert [(e.kind, e.correlation_id) for e in ledger.entries] == [(EntryKind.SETTLEMENT, "corr-7")]


async def test_a_rejected_validation_is_dead_lettered_after_one_attempt(world_for) -> None:
    world = world_for(JOB_MODELS)
    service = TransactionQueueService(world.queue(TRANSACTION_PROCESSING_QUEUE))
    job = await service.enqueue_validation(
        ValidateTransaction(tx_id="tx-1", amount_minor=100, currency="USD", risk_score=0.99), META
    )

    [done] = await world.drain(TRANSACTION_PROCESSING_QUEUE, build_handlers(InMemoryLedger()), [job.id])

    assert (done.state, done.attempts_started) == (JobState.FAILED, 1)
    assert done.failed_reason is not None and "risk_score 0.99" in done.failed_reason
    letters = await world.queue(TRANSACTION_PROCESSING_QUEUE).list_dead_letters()
    assert [letter.job_id for letter in letters] == ["validation-tx-1"]


async def test_a_settlement_enqueued_again_after_its_job_was_removed_is_still_deduplicated(
    world, service
) -> None:
    queue = world.queue(TRANSACTION_PROCESSING_QUEUE)
    await service.enqueue_settlement(settlement(), META)
    assert await queue.remove_job("settlement-tx-1")

    again = await service.enqueue_settlement(settlement(), META)

    assert again.deduplicated
    assert (await queue.get_stats()).total == 0
