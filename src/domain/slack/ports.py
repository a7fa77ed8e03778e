"""Outbound port of the slack module and the errors a client raises.

A client translates its transport's failures: ``SlackRejectedError`` when Slack refuses the
message for good (bad payload, revoked hook), ``SlackUnavailableError`` when it may work later
(rate limited with ``retry_delay_ms``, server error, timeout, connection failure).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from domain.queue.errors import PermanentError, RetryableError


class SlackRejectedError(PermanentError):
    """Slack refused the message; sending it again cannot help."""


class SlackUnavailableError(RetryableError):
    """Slack could not take the message now."""


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """One post. ``message_id`` (the job id) is stable across retries of the same job."""

    message_id: str
    channel: str
    text: str
    correlation_id: str


class SlackClient(ABC):
    @abstractmethod
    async def post(self, message: SlackMessage) -> None:
        """Deliver one message to its channel."""
