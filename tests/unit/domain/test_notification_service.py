"""``NotificationQueueService`` against the memory adapter: queues, ids and options stored."""

from __future__ import annotations

import pytest

from domain.notifications.jobs import (
    BROADCAST_JOB,
    BROADCAST_QUEUE,
    EMAIL_JOB,
    EMAIL_QUEUE,
    JOB_MODELS,
    PUSH_QUEUE,
    SMS_JOB,
    SMS_QUEUE,
    SendBroadcast,
    SendEmail,
    SendPush,
    SendSms,
)
from domain.notifications.service import NotificationQueueService
from domain.queue.metadata import JobMetadata, UserRef
from domain.queue.options import BackoffType
from domain.queue.priority import Priority

META = JobMetadata(
    correlation_id="corr-n", tenant_id="org-acme", user=UserRef(sub="user-1", tenant="org-acme")
)


@pytest.fixture
def world(world_for, manual_clock):
    return world_for(JOB_MODELS, manual_clock)


@pytest.fixture
def service(world) -> NotificationQueueService:
    return NotificationQueueService(
        email_queue=world.queue(EMAIL_QUEUE),
        sms_queue=world.queue(SMS_QUEUE),
        push_queue=world.queue(PUSH_QUEUE),
        broadcast_queue=world.queue(BROADCAST_QUEUE),
    )


def email() -> SendEmail:
    return SendEmail(notification_id="n-1", kind="payment.completed", user_id="user-1", template_id="t-1")


async def test_each_message_kind_lands_on_its_own_queue_under_a_deterministic_id(world, service) -> None:
    await service.enqueue_email(email(), META)
    await service.enqueue_sms(
        SendSms(notification_id="n-2", user_id="u", phone_number="+4915112345678", text="x"), META
    )
    await service.enqueue_push(SendPush(notification_id="n-3", user_id="u", title="t", body="b"), META)

    assert [(await world.queue(q).get_stats()).total for q in (EMAIL_QUEUE, SMS_QUEUE, PUSH_QUEUE)] == [
        1,
        1,
        1,
    ]
    assert await world.queue(EMAIL_QUEUE).get_job("email-n-1") is not None
    assert await world.queue(SMS_QUEUE).get_job("sms-n-2") is not None
    assert await world.queue(PUSH_QUEUE).get_job("push-n-3") is not None


async def test_messages_retry_three_times_from_one_second_with_the_callers_priority(world, service) -> None:
    await service.enqueue_email(email(), META, priority=Priority.HIGH)

    stored = await world.queue(EMAIL_QUEUE).get_job("email-n-1")
    assert stored is not None
    assert (stored.name, stored.options.attempts, stored.options.priority) == (EMAIL_JOB, 3, Priority.HIGH)
    assert (stored.options.backoff.type, stored.options.backoff.delay) == (BackoffType.EXPONENTIAL, 1000)
    assert (stored.metadata.correlation_id, stored.metadata.source) == ("corr-n", "notification-service")


async def test_the_same_notification_enqueued_twice_is_one_job(world, service) -> None:
    await service.enqueue_email(email(), META)
    again = await service.enqueue_email(email(), META)

    assert again.deduplicated
    assert (await world.queue(EMAIL_QUEUE).get_stats()).total == 1


async def test_a_broadcast_is_low_priority_with_seed_backoff_and_a_five_minute_timeout(
    world, service
) -> None:
    data = SendBroadcast(broadcast_id="b-1", sender_id="admin", recipient_ids=("u1",), title="t", body="b")
    job = await service.enqueue_broadcast(data, META)

    assert (job.id, job.name, job.queue) == ("broadcast-b-1", BROADCAST_JOB, BROADCAST_QUEUE)
    assert (job.options.priority, job.options.attempts, job.options.timeout) == (Priority.LOW, 3, 300_000)
    assert job.options.backoff.delay == 5000


async def test_an_sms_delay_holds_the_job(world, service) -> None:
    job = await service.enqueue_sms(
        SendSms(notification_id="n-2", user_id="u", phone_number="+4915112345678", text="x"),
        META,
        delay_ms=5000,
    )

    assert (job.name, job.state.value, job.options.delay) == (SMS_JOB, "delayed", 5000)


def test_the_service_refuses_queues_with_the_wrong_names(world) -> None:
    with pytest.raises(ValueError, match="notification-sms"):
        NotificationQueueService(
            email_queue=world.queue(EMAIL_QUEUE),
            sms_queue=world.queue(PUSH_QUEUE),
            push_queue=world.queue(PUSH_QUEUE),
            broadcast_queue=world.queue(BROADCAST_QUEUE),
        )


async def test_an_email_enqueued_again_after_its_job_was_removed_is_still_deduplicated(
    world, service
) -> None:
    await service.enqueue_email(email(), META)
    assert await world.queue(EMAIL_QUEUE).remove_job("email-n-1")

    again = await service.enqueue_email(email(), META)

    assert again.deduplicated
    assert (await world.queue(EMAIL_QUEUE).get_stats()).total == 0
