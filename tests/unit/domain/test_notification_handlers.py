"""Email, SMS and push handlers against the in-memory sender; failures through the flaky wrapper."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adapters.outbound.flaky import (
    FailureKind,
    FailurePlan,
    FlakyEmailSender,
    FlakyPushSender,
    FlakySmsSender,
)
from adapters.outbound.notification_senders import InMemoryNotificationSender
from domain.notifications.handlers import SendEmailHandler, SendPushHandler, SendSmsHandler, build_handlers
from domain.notifications.jobs import JOB_MODELS, SendEmail, SendPush, SendSms
from domain.notifications.messages import EmailMessage
from domain.queue.errors import PermanentError, RetryableError


def email(notification_id: str = "n-1") -> SendEmail:
    return SendEmail(
        notification_id=notification_id,
        kind="payment.completed",
        user_id="user-1",
        template_id="payment_completed_v1",
        template_data={"amount_minor": 500},
        email="user@example.com",
    )


async def test_email_is_sent_with_a_message_id_stable_across_retries(context_for) -> None:
    sender = InMemoryNotificationSender()
    result = await SendEmailHandler(sender)(email(), context_for("email-n-1", correlation_id="corr-1"))

    assert result == {"notification_id": "n-1", "channel": "email", "status": "sent"}
    assert sender.emails == [
        EmailMessage(
            message_id="email:n-1",
            user_id="user-1",
            template_id="payment_completed_v1",
            kind="payment.completed",
            correlation_id="corr-1",
            template_data={"amount_minor": 500},
            address="user@example.com",
        )
    ]


async def test_sms_and_push_reach_their_senders(context_for) -> None:
    sender = InMemoryNotificationSender()
    await SendSmsHandler(sender)(
        SendSms(notification_id="s-1", user_id="user-1", phone_number="+14155550100", text="hi"),
        context_for(),
    )
    await SendPushHandler(sender)(
        SendPush(notification_id="p-1", user_id="user-1", title="Paid", body="Thanks"), context_for()
    )

    assert [(m.message_id, m.phone_number) for m in sender.sms] == [("sms:s-1", "+14155550100")]
    assert [(m.message_id, m.title) for m in sender.pushes] == [("push:p-1", "Paid")]


async def test_a_transient_sender_failure_is_retryable_with_the_senders_delay(context_for) -> None:
    inner = InMemoryNotificationSender()
    plan = FailurePlan(message_ids=frozenset({"email:n-1"}), retry_delay_ms=1500)
    handler = SendEmailHandler(FlakyEmailSender(inner, plan))

    with pytest.raises(RetryableError, match="email n-1 to user user-1 deferred") as failure:
        await handler(email(), context_for())

    assert failure.value.retry_delay_ms == 1500
    assert inner.emails == []


async def test_a_retry_after_a_transient_failure_sends_the_email_once(context_for) -> None:
    inner = InMemoryNotificationSender()
    handler = SendEmailHandler(FlakyEmailSender(inner, FailurePlan(message_ids=frozenset({"email:n-1"}))))
    with pytest.raises(RetryableError):
        await handler(email(), context_for())

    await handler(email(), context_for())

    assert [m.message_id for m in inner.emails] == ["email:n-1"]


async def test_a_rejected_recipient_is_a_permanent_failure(context_for) -> None:
    inner = InMemoryNotificationSender()
    plan = FailurePlan(message_ids=frozenset({"sms:s-1"}), kind=FailureKind.PERMANENT)
    handler = SendSmsHandler(FlakySmsSender(inner, plan))

    with pytest.raises(PermanentError, match="sms s-1 to user user-1 rejected"):
        await handler(
            SendSms(notification_id="s-1", user_id="user-1", phone_number="+14155550100", text="hi"),
            context_for(),
        )

    assert inner.sms == []


async def test_a_push_sender_that_never_recovers_keeps_failing_retryably(context_for) -> None:
    plan = FailurePlan(fraction=1.0, failures_per_message=None)
    handler = SendPushHandler(FlakyPushSender(InMemoryNotificationSender(), plan))
    payload = SendPush(notification_id="p-1", user_id="user-1", title="t", body="b")

    for _ in range(3):
        with pytest.raises(RetryableError):
            await handler(payload, context_for())


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (SendSms, {"notification_id": "s", "user_id": "u", "phone_number": "0044 1234", "text": "x"}),
        (
            SendEmail,
            {"notification_id": "n", "kind": "k", "user_id": "u", "template_id": "t", "email": "nope"},
        ),
        (SendPush, {"notification_id": "has space", "user_id": "u", "title": "t", "body": "b"}),
        (SendPush, {"notification_id": "p", "user_id": "u", "title": "t", "body": "b", "extra": 1}),
    ],
)
def test_malformed_notification_payloads_are_refused_by_their_model(
    model: type, data: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_every_notifications_job_has_a_model_and_a_handler() -> None:
    sender = InMemoryNotificationSender()

    assert set(build_handlers(sender, sender, sender)) == set(JOB_MODELS)
