"""Deterministic failure injection for demos: wrap a sender so chosen messages fail.

A ``FailurePlan`` selects messages by id (listed ids, plus a ``fraction`` chosen by a seeded hash
of the id, so the same messages are picked on every run) and says how they fail: ``transient``
failures happen ``failures_per_message`` times per message and then the message goes through
(retries win), ``permanent`` failures happen every time (dead letters). Failure counts live in the
wrapper, so each process counts its own.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from domain.notifications.messages import EmailMessage, PushMessage, SmsMessage
from domain.notifications.ports import (
    EmailSender,
    PushSender,
    RecipientRejectedError,
    SenderUnavailableError,
    SmsSender,
)
from domain.queue.errors import PermanentError, RetryableError
from domain.slack.ports import SlackClient, SlackMessage, SlackRejectedError, SlackUnavailableError


class FailureKind(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class FailurePlan:
    fraction: float = 0.0
    message_ids: frozenset[str] = field(default_factory=frozenset)
    kind: FailureKind = FailureKind.TRANSIENT
    failures_per_message: int | None = 1  # transient only; None = fail every time
    retry_delay_ms: int | None = None  # transient only: what the "provider" asks for
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError("fraction must be between 0 and 1")
        if self.failures_per_message is not None and self.failures_per_message < 1:
            raise ValueError("failures_per_message must be >= 1 or None")

    def selects(self, message_id: str) -> bool:
        if message_id in self.message_ids:
            return True
        digest = hashlib.sha256(f"{self.seed}:{message_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.fraction


class FailureInjector:
    """Raises the planned failure for a message id, or returns to let the send through."""

    def __init__(
        self, plan: FailurePlan, transient: type[RetryableError], permanent: type[PermanentError]
    ) -> None:
        self.plan = plan
        self.failures: Counter[str] = Counter()
        self._transient = transient
        self._permanent = permanent

    def check(self, message_id: str) -> None:
        plan = self.plan
        if not plan.selects(message_id):
            return
        if plan.kind is FailureKind.PERMANENT:
            self.failures[message_id] += 1
            raise self._permanent(f"injected permanent failure for {message_id}")
        if plan.failures_per_message is None or self.failures[message_id] < plan.failures_per_message:
            self.failures[message_id] += 1
            raise self._transient(
                f"injected transient failure {self.failures[message_id]} for {message_id}",
                retry_delay_ms=plan.retry_delay_ms,
            )


def _notification_injector(plan: FailurePlan) -> FailureInjector:
    return FailureInjector(plan, SenderUnavailableError, RecipientRejectedError)


class FlakyEmailSender(EmailSender):
    def __init__(self, inner: EmailSender, plan: FailurePlan) -> None:
        self._inner = inner
        self.injector = _notification_injector(plan)

    async def send_email(self, message: EmailMessage) -> None:
        self.injector.check(message.message_id)
        await self._inner.send_email(message)


class FlakySmsSender(SmsSender):
    def __init__(self, inner: SmsSender, plan: FailurePlan) -> None:
        self._inner = inner
        self.injector = _notification_injector(plan)

    async def send_sms(self, message: SmsMessage) -> None:
        self.injector.check(message.message_id)
        await self._inner.send_sms(message)


class FlakyPushSender(PushSender):
    def __init__(self, inner: PushSender, plan: FailurePlan) -> None:
        self._inner = inner
        self.injector = _notification_injector(plan)

    async def send_push(self, message: PushMessage) -> None:
        self.injector.check(message.message_id)
        await self._inner.send_push(message)


class FlakySlackClient(SlackClient):
    def __init__(self, inner: SlackClient, plan: FailurePlan) -> None:
        self._inner = inner
        self.injector = FailureInjector(plan, SlackUnavailableError, SlackRejectedError)

    async def post(self, message: SlackMessage) -> None:
        self.injector.check(message.message_id)
        await self._inner.post(message)
