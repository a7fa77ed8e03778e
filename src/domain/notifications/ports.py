"""Outbound ports of the notifications module and the errors a sender raises.

Senders translate their provider's errors into two categories: ``RecipientRejectedError`` (this
message can never be delivered: bad address, unsubscribed) and ``SenderUnavailableError`` (try
again later; ``retry_delay_ms`` when the provider says when, e.g. rate limited).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from domain.notifications.messages import EmailMessage, PushMessage, SmsMessage
from domain.queue.errors import PermanentError, RetryableError


class RecipientRejectedError(PermanentError):
    """The provider refused this message for good."""


class SenderUnavailableError(RetryableError):
    """The provider could not take the message now (network, outage, rate limit)."""


class EmailSender(ABC):
    @abstractmethod
    async def send_email(self, message: EmailMessage) -> None:
        """Deliver one email (``message.message_id`` is the provider idempotency key)."""


class SmsSender(ABC):
    @abstractmethod
    async def send_sms(self, message: SmsMessage) -> None:
        """Deliver one SMS."""


class PushSender(ABC):
    @abstractmethod
    async def send_push(self, message: PushMessage) -> None:
        """Deliver one push notification to every device of ``message.user_id``."""
