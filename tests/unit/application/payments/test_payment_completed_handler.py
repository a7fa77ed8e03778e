"""``PaymentCompletedHandler`` (seed 002): email always, Slack alert above 1,000.00, delayed settlement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from application.payments import EventMetadata, PaymentCompletedV1
from domain.queue.job import JobState
from domain.queue.metadata import UserRef
from domain.queue.priority import Priority

EMAIL_QUEUE, ALERTS_QUEUE, TX_QUEUE = "notification-email", "slack-alerts", "transaction-processing"
NOW = datetime(2025, 8, 12, 10, 30, tzinfo=UTC)
META = EventMetadata(correlation_id="test-correlation-123", tenant_id="tenant_789", user_id="user_456")


def payment(
    amount_minor: int = 50_000, settles: datetime | None = None, payment_id: str = "pay_123"
) -> PaymentCompletedV1:
    return PaymentCompletedV1(
        payment_id=payment_id,
        user_id="user_456",
        amount_minor=amount_minor,
        currency="USD",
        merchant_name="Test Merchant",
        settlement_date=settles or datetime(2025, 8, 15, tzinfo=UTC),
    )


async def test_a_completed_payment_enqueues_the_payment_email(payment_world) -> None:
    jobs = await payment_world.handler.handle(payment(), META)

    email = await payment_world.queues[EMAIL_QUEUE].get_job(jobs.email.id)
    assert email is not None and email.id == "email-payment-completed-pay_123"
    assert email.data["kind"] == "payment.completed"
    assert email.data["user_id"] == "user_456"
    assert email.data["template_data"] == {
        "payment_id": "pay_123",
        "amount_minor": 50_000,
        "currency": "USD",
        "merchant_name": "Test Merchant",
    }


async def test_a_normal_value_payment_raises_no_slack_alert(payment_world) -> None:
    jobs = await payment_world.handler.handle(payment(amount_minor=50_000), META)

    assert jobs.alert is None
    assert await payment_world.jobs_on(ALERTS_QUEUE) == 0


async def test_a_payment_of_exactly_the_threshold_raises_no_slack_alert(payment_world) -> None:
    await payment_world.handler.handle(payment(amount_minor=100_000), META)

    assert await payment_world.jobs_on(ALERTS_QUEUE) == 0


async def test_a_high_value_payment_raises_a_critical_slack_alert(payment_world) -> None:
    jobs = await payment_world.handler.handle(payment(amount_minor=150_000, payment_id="pay_456"), META)

    assert jobs.alert is not None
    alert = await payment_world.queues[ALERTS_QUEUE].get_job(jobs.alert.id)
    assert alert is not None and alert.id == "alert-high_value_payment-pay_456"
    assert alert.options.priority == Priority.CRITICAL
    assert alert.data["fields"] == {
        "payment_id": "pay_456",
        "amount_minor": 150_000,
        "currency": "USD",
        "merchant_name": "Test Merchant",
    }
    assert alert.metadata.source == "domain.payment.high_value"


async def test_settlement_is_delayed_until_the_settlement_date(payment_world) -> None:
    jobs = await payment_world.handler.handle(payment(settles=NOW + timedelta(days=2, hours=3)), META)

    settlement = await payment_world.queues[TX_QUEUE].get_job(jobs.settlement.id)
    assert settlement is not None and settlement.id == "settlement-pay_123"
    assert (settlement.state, settlement.options.delay) == (JobState.DELAYED, (2 * 24 + 3) * 3600 * 1000)
    assert settlement.data["amount_minor"] == 50_000
    assert settlement.data["settlement_date"] == "2025-08-14"


async def test_a_settlement_date_in_the_past_settles_at_once(payment_world) -> None:
    jobs = await payment_world.handler.handle(payment(settles=NOW - timedelta(days=1)), META)

    assert (jobs.settlement.state, jobs.settlement.options.delay) == (JobState.WAITING, 0)


async def test_every_job_of_the_flow_carries_the_events_correlation_id_tenant_and_user(payment_world) -> None:
    jobs = await payment_world.handler.handle(payment(amount_minor=150_000), META)

    produced = [jobs.email, jobs.settlement, jobs.alert]
    assert {(j.metadata.correlation_id, j.metadata.tenant_id) for j in produced if j} == {
        ("test-correlation-123", "tenant_789")
    }
    assert {j.metadata.user for j in produced if j} == {UserRef(sub="user_456", tenant="tenant_789")}
    assert [j.metadata.source for j in produced if j] == [
        "domain.payment.completed",
        "domain.payment.settlement",
        "domain.payment.high_value",
    ]


async def test_an_event_without_a_user_is_attributed_to_the_system_user(payment_world) -> None:
    jobs = await payment_world.handler.handle(payment(), EventMetadata(correlation_id="c-1", tenant_id="t-1"))

    assert jobs.email.metadata.user == UserRef.system("t-1")


async def test_handling_the_same_event_twice_enqueues_nothing_new(payment_world) -> None:
    await payment_world.handler.handle(payment(amount_minor=150_000), META)
    payment_world.clock.advance(10 * 60 * 1000)
    again = await payment_world.handler.handle(payment(amount_minor=150_000), META)

    assert again.email.deduplicated and again.settlement.deduplicated
    assert again.alert is not None and again.alert.deduplicated
    assert [await payment_world.jobs_on(q) for q in (EMAIL_QUEUE, ALERTS_QUEUE, TX_QUEUE)] == [1, 1, 1]


def test_a_settlement_date_without_a_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        payment(settles=datetime(2025, 8, 15))
