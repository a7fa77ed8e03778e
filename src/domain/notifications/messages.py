"""What the senders deliver. ``message_id`` is stable across retries: an idempotency key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class EmailMessage:
    message_id: str
    user_id: str
    template_id: str
    kind: str
    correlation_id: str
    template_data: dict[str, Any] = field(default_factory=dict)
    address: str | None = None


@dataclass(frozen=True, slots=True)
class SmsMessage:
    message_id: str
    user_id: str
    phone_number: str
    text: str
    correlation_id: str


@dataclass(frozen=True, slots=True)
class PushMessage:
    message_id: str
    user_id: str
    title: str
    body: str
    correlation_id: str
    data: dict[str, str] = field(default_factory=dict)
