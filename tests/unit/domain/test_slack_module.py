"""Slack service (options, dedup) and handlers (formatting, failure categories)."""

from __future__ import annotations

import pytest

from adapters.outbound.flaky import FailureKind, FailurePlan, FlakySlackClient
from adapters.outbound.slack_clients import InMemorySlackClient
from domain.queue.errors import PermanentError, RetryableError
from domain.queue.metadata import JobMetadata
from domain.queue.options import BackoffType
from domain.queue.priority import Priority
from domain.slack.handlers import SendSlackAlertHandler, SendSlackMessageHandler, build_handlers, format_alert
from domain.slack.jobs import (
    ALERT_JOB,
    ALERTS_QUEUE,
    JOB_MODELS,
    MESSAGES_QUEUE,
    SendSlackAlert,
    SendSlackMessage,
)
from domain.slack.ports import SlackMessage
from domain.slack.service import SlackQueueService

META = JobMetadata(correlation_id="corr-s", tenant_id="org-acme")


@pytest.fixture
def world(world_for, manual_clock):
    return world_for(JOB_MODELS, manual_clock)


@pytest.fixture
def service(world, manual_clock) -> SlackQueueService:
    return SlackQueueService(
        messages_queue=world.queue(MESSAGES_QUEUE), alerts_queue=world.queue(ALERTS_QUEUE), clock=manual_clock
    )


def alert(dedup_key: str | None = "pay-1") -> SendSlackAlert:
    return SendSlackAlert(
        alert_type="high_value_payment",
        summary="150000 USD at ACME",
        dedup_key=dedup_key,
        fields={"payment_id": "pay-1", "amount_minor": 150_000},
    )


@pytest.mark.parametrize(("urgent", "priority"), [(True, Priority.HIGH), (False, Priority.NORMAL)])
async def test_channel_messages_are_high_priority_only_when_urgent(
    service, urgent: bool, priority: int
) -> None:
    job = await service.send_channel_message(SendSlackMessage(channel="#ops", text="hi", urgent=urgent), META)

    assert (job.queue, job.options.priority, job.options.attempts) == (MESSAGES_QUEUE, priority, 3)


async def test_the_same_channel_message_within_five_minutes_is_posted_once(
    world, service, manual_clock
) -> None:
    message = SendSlackMessage(channel="#ops", text="deploy done")
    first = await service.send_channel_message(message, META)
    manual_clock.advance(60_000)  # the manual clock starts 200 s into a window: still the same window
    second = await service.send_channel_message(message, META)

    assert (second.id, second.deduplicated) == (first.id, True)
    assert (await world.queue(MESSAGES_QUEUE).get_stats()).total == 1


async def test_the_same_channel_message_in_a_later_window_is_a_new_job(world, service, manual_clock) -> None:
    message = SendSlackMessage(channel="#ops", text="deploy done")
    first = await service.send_channel_message(message, META)
    manual_clock.advance(5 * 60_000)
    second = await service.send_channel_message(message, META)

    assert second.id != first.id and not second.deduplicated


async def test_alerts_are_critical_with_five_exponential_attempts_from_one_second(service) -> None:
    job = await service.send_alert(alert(), META)

    assert (job.id, job.name, job.queue) == ("alert-high_value_payment-pay-1", ALERT_JOB, ALERTS_QUEUE)
    assert (job.options.priority, job.options.attempts) == (Priority.CRITICAL, 5)
    assert (job.options.backoff.type, job.options.backoff.delay) == (BackoffType.EXPONENTIAL, 1000)
    assert (job.metadata.correlation_id, job.metadata.source) == ("corr-s", "slack-service")


async def test_an_alert_with_a_dedup_key_is_enqueued_once_ever(world, service, manual_clock) -> None:
    await service.send_alert(alert(), META)
    manual_clock.advance(24 * 3600 * 1000)
    again = await service.send_alert(alert(), META)

    assert again.deduplicated
    assert (await world.queue(ALERTS_QUEUE).get_stats()).total == 1


async def test_an_alert_without_a_dedup_key_is_deduplicated_by_content_within_the_window(
    world, service
) -> None:
    await service.send_alert(alert(dedup_key=None), META)
    again = await service.send_alert(alert(dedup_key=None), META)

    assert again.deduplicated


async def test_a_channel_message_is_posted_to_its_channel(context_for) -> None:
    client = InMemorySlackClient()
    await SendSlackMessageHandler(client)(
        SendSlackMessage(channel="#ops", text="hello"), context_for("job-9", correlation_id="c-9")
    )

    assert client.posted == [
        SlackMessage(message_id="job-9", channel="#ops", text="hello", correlation_id="c-9")
    ]


async def test_an_alert_is_formatted_and_posted_to_the_alert_channel(context_for) -> None:
    client = InMemorySlackClient()
    result = await SendSlackAlertHandler(client, alert_channel="#payments-alerts")(alert(), context_for())

    [posted] = client.posted
    assert posted.channel == "#payments-alerts"
    assert posted.text == (
        ":rotating_light: *CRITICAL* high_value_payment: 150000 USD at ACME\n• amount_minor: 150000\n• payment_id: pay-1"
    )
    assert posted.text == format_alert(alert())
    assert result == {"channel": "#payments-alerts", "alert_type": "high_value_payment", "status": "posted"}


async def test_a_rejected_slack_post_is_permanent_and_an_unavailable_one_is_retryable(context_for) -> None:
    rejecting = FlakySlackClient(InMemorySlackClient(), FailurePlan(fraction=1.0, kind=FailureKind.PERMANENT))
    unavailable = FlakySlackClient(InMemorySlackClient(), FailurePlan(fraction=1.0, retry_delay_ms=2000))
    message = SendSlackMessage(channel="#ops", text="x")

    with pytest.raises(PermanentError, match="slack message to #ops rejected"):
        await SendSlackMessageHandler(rejecting)(message, context_for())
    with pytest.raises(RetryableError) as deferred:
        await SendSlackMessageHandler(unavailable)(message, context_for())
    assert deferred.value.retry_delay_ms == 2000


def test_every_slack_job_has_a_model_and_a_handler() -> None:
    assert set(build_handlers(InMemorySlackClient())) == set(JOB_MODELS)
