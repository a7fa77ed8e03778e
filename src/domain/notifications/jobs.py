"""Queue and job names of the notifications module, and the payload model of each job."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

EMAIL_QUEUE = "notification-email"
SMS_QUEUE = "notification-sms"
PUSH_QUEUE = "notification-push"
BROADCAST_QUEUE = "batch-message-sending"

EMAIL_JOB = "notification.email.send.v1"
SMS_JOB = "notification.sms.send.v1"
PUSH_JOB = "notification.push.send.v1"
BROADCAST_JOB = "notification.broadcast.send.v1"

# Identifiers end up inside job ids and provider idempotency keys: no whitespace, bounded length.
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$")]
EmailAddress = Annotated[
    str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$", max_length=254)
]
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]  # E.164
NotificationKind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")]

MAX_BROADCAST_RECIPIENTS = 100_000


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SendEmail(_Payload):
    """Send one templated email. Without ``email`` the sender resolves the user's address."""

    notification_id: Identifier
    kind: NotificationKind
    user_id: Identifier
    template_id: Identifier
    template_data: dict[str, Any] = Field(default_factory=dict)
    email: EmailAddress | None = None


class SendSms(_Payload):
    notification_id: Identifier
    user_id: Identifier
    phone_number: PhoneNumber
    text: Annotated[str, StringConstraints(min_length=1, max_length=1600)]


class SendPush(_Payload):
    notification_id: Identifier
    user_id: Identifier
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    body: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    data: dict[str, str] = Field(default_factory=dict)


class SendBroadcast(_Payload):
    """Push one announcement to many users, ``chunk_size`` at a time (seed 003 batch-send)."""

    broadcast_id: Identifier
    sender_id: Identifier
    recipient_ids: Annotated[tuple[Identifier, ...], Field(min_length=1, max_length=MAX_BROADCAST_RECIPIENTS)]
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    body: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    chunk_size: Annotated[int, Field(ge=1, le=1000)] = 50
    chunk_delay_ms: Annotated[int, Field(ge=0, le=60_000)] = 0

    @field_validator("recipient_ids")
    @classmethod
    def _no_duplicates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("recipient_ids must not repeat a recipient")
        return value


JOB_MODELS: dict[str, type[BaseModel]] = {
    EMAIL_JOB: SendEmail,
    SMS_JOB: SendSms,
    PUSH_JOB: SendPush,
    BROADCAST_JOB: SendBroadcast,
}
