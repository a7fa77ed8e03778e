"""Email, SMS and push senders that need no account: JSON lines to a stream/file, or in memory."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from adapters.outbound.json_lines import JsonLinesSink
from domain.notifications.messages import EmailMessage, PushMessage, SmsMessage
from domain.notifications.ports import EmailSender, PushSender, SenderUnavailableError, SmsSender

logger = logging.getLogger(__name__)


class JsonLinesNotificationSender(EmailSender, SmsSender, PushSender):
    """Writes each message as one JSON line (``channel`` plus the message fields) and logs it."""

    def __init__(self, sink: JsonLinesSink) -> None:
        self._sink = sink

    async def send_email(self, message: EmailMessage) -> None:
        await self._write("email", message.message_id, message.user_id, message.correlation_id, message)

    async def send_sms(self, message: SmsMessage) -> None:
        await self._write("sms", message.message_id, message.user_id, message.correlation_id, message)

    async def send_push(self, message: PushMessage) -> None:
        await self._write("push", message.message_id, message.user_id, message.correlation_id, message)

    async def _write(
        self, channel: str, message_id: str, user_id: str, correlation_id: str, message: Any
    ) -> None:
        record = {"channel": channel, **dataclasses.asdict(message)}
        try:
            await self._sink.write(record)
        except OSError as exc:
            raise SenderUnavailableError(f"{channel} sink not writable: {exc.strerror or exc}") from exc
        logger.info("%s %s sent to user %s (correlation_id=%s)", channel, message_id, user_id, correlation_id)


class InMemoryNotificationSender(EmailSender, SmsSender, PushSender):
    """Keeps every delivered message, in order, for tests and the in-process demo."""

    def __init__(self) -> None:
        self.emails: list[EmailMessage] = []
        self.sms: list[SmsMessage] = []
        self.pushes: list[PushMessage] = []

    async def send_email(self, message: EmailMessage) -> None:
        self.emails.append(message)

    async def send_sms(self, message: SmsMessage) -> None:
        self.sms.append(message)

    async def send_push(self, message: PushMessage) -> None:
        self.pushes.append(message)
