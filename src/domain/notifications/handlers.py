"""Handlers of the single-message notification jobs (email, SMS, push).

The sender's error category decides the job's fate: a rejected recipient is permanent (dead
letter at once), an unavailable sender is retried, after ``retry_delay_ms`` when the sender said so.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from domain.notifications.broadcast import SendBroadcastHandler, Sleep
from domain.notifications.jobs import (
    BROADCAST_JOB,
    EMAIL_JOB,
    PUSH_JOB,
    SMS_JOB,
    SendEmail,
    SendPush,
    SendSms,
)
from domain.notifications.messages import EmailMessage, PushMessage, SmsMessage
from domain.notifications.ports import EmailSender, PushSender, SmsSender
from domain.queue.context import Handler, JobContext
from domain.queue.errors import PermanentError, RetryableError


async def _deliver(ctx: JobContext, what: str, sending: Awaitable[None]) -> None:
    """Await ``sending``; re-raise a sender failure in its category with ``what`` for context."""
    try:
        await sending
    except PermanentError as exc:
        ctx.logger.warning("%s rejected: %s", what, exc)
        raise PermanentError(f"{what} rejected: {exc}") from exc
    except RetryableError as exc:
        ctx.logger.info("%s deferred: %s", what, exc)
        raise RetryableError(f"{what} deferred: {exc}", retry_delay_ms=exc.retry_delay_ms) from exc


class SendEmailHandler:
    def __init__(self, sender: EmailSender) -> None:
        self._sender = sender

    async def __call__(self, payload: SendEmail, ctx: JobContext) -> dict[str, Any]:
        message = EmailMessage(
            message_id=f"email:{payload.notification_id}",
            user_id=payload.user_id,
            template_id=payload.template_id,
            kind=payload.kind,
            correlation_id=ctx.correlation_id,
            template_data=dict(payload.template_data),
            address=payload.email,
        )
        await _deliver(
            ctx,
            f"email {payload.notification_id} to user {payload.user_id}",
            self._sender.send_email(message),
        )
        return {"notification_id": payload.notification_id, "channel": "email", "status": "sent"}


class SendSmsHandler:
    def __init__(self, sender: SmsSender) -> None:
        self._sender = sender

    async def __call__(self, payload: SendSms, ctx: JobContext) -> dict[str, Any]:
        message = SmsMessage(
            message_id=f"sms:{payload.notification_id}",
            user_id=payload.user_id,
            phone_number=payload.phone_number,
            text=payload.text,
            correlation_id=ctx.correlation_id,
        )
        await _deliver(
            ctx, f"sms {payload.notification_id} to user {payload.user_id}", self._sender.send_sms(message)
        )
        return {"notification_id": payload.notification_id, "channel": "sms", "status": "sent"}


class SendPushHandler:
    def __init__(self, sender: PushSender) -> None:
        self._sender = sender

    async def __call__(self, payload: SendPush, ctx: JobContext) -> dict[str, Any]:
        message = PushMessage(
            message_id=f"push:{payload.notification_id}",
            user_id=payload.user_id,
            title=payload.title,
            body=payload.body,
            correlation_id=ctx.correlation_id,
            data=dict(payload.data),
        )
        await _deliver(
            ctx, f"push {payload.notification_id} to user {payload.user_id}", self._sender.send_push(message)
        )
        return {"notification_id": payload.notification_id, "channel": "push", "status": "sent"}


def build_handlers(
    email: EmailSender, sms: SmsSender, push: PushSender, *, sleep: Sleep | None = None
) -> dict[str, Handler]:
    """The handler of every notifications job, by job name, for the worker's registry."""
    return {
        EMAIL_JOB: SendEmailHandler(email),
        SMS_JOB: SendSmsHandler(sms),
        PUSH_JOB: SendPushHandler(push),
        BROADCAST_JOB: SendBroadcastHandler(push, sleep=sleep),
    }
