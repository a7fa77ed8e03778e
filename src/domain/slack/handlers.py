"""Handlers of the slack jobs. The client's error category decides retry or dead letter."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from domain.queue.context import Handler, JobContext
from domain.queue.errors import PermanentError, RetryableError
from domain.slack.jobs import ALERT_JOB, CHANNEL_MESSAGE_JOB, AlertSeverity, SendSlackAlert, SendSlackMessage
from domain.slack.ports import SlackClient, SlackMessage

DEFAULT_ALERT_CHANNEL = "#alerts"
_SEVERITY_MARK = {
    AlertSeverity.INFO: ":information_source:",
    AlertSeverity.WARNING: ":warning:",
    AlertSeverity.CRITICAL: ":rotating_light:",
}


async def _post(ctx: JobContext, what: str, posting: Awaitable[None]) -> None:
    try:
        await posting
    except PermanentError as exc:
        ctx.logger.warning("%s rejected: %s", what, exc)
        raise PermanentError(f"{what} rejected: {exc}") from exc
    except RetryableError as exc:
        ctx.logger.info("%s deferred: %s", what, exc)
        raise RetryableError(f"{what} deferred: {exc}", retry_delay_ms=exc.retry_delay_ms) from exc


def format_alert(alert: SendSlackAlert) -> str:
    """``:rotating_light: *CRITICAL* high_value_payment: summary`` then one ``• key: value`` per field."""
    lines = [
        f"{_SEVERITY_MARK[alert.severity]} *{alert.severity.upper()}* {alert.alert_type}: {alert.summary}"
    ]
    lines.extend(f"• {key}: {value}" for key, value in sorted(alert.fields.items()))
    return "\n".join(lines)


class SendSlackMessageHandler:
    def __init__(self, client: SlackClient) -> None:
        self._client = client

    async def __call__(self, payload: SendSlackMessage, ctx: JobContext) -> dict[str, Any]:
        message = SlackMessage(
            message_id=ctx.job.id,
            channel=payload.channel,
            text=payload.text,
            correlation_id=ctx.correlation_id,
        )
        await _post(ctx, f"slack message to {payload.channel}", self._client.post(message))
        return {"channel": payload.channel, "status": "posted"}


class SendSlackAlertHandler:
    def __init__(self, client: SlackClient, alert_channel: str = DEFAULT_ALERT_CHANNEL) -> None:
        self._client = client
        self._channel = alert_channel

    async def __call__(self, payload: SendSlackAlert, ctx: JobContext) -> dict[str, Any]:
        message = SlackMessage(
            message_id=ctx.job.id,
            channel=self._channel,
            text=format_alert(payload),
            correlation_id=ctx.correlation_id,
        )
        await _post(ctx, f"slack alert {payload.alert_type}", self._client.post(message))
        return {"channel": self._channel, "alert_type": payload.alert_type, "status": "posted"}


def build_handlers(client: SlackClient, alert_channel: str = DEFAULT_ALERT_CHANNEL) -> dict[str, Handler]:
    """The handler of every slack job, by job name, for the worker's registry."""
    return {
        CHANNEL_MESSAGE_JOB: SendSlackMessageHandler(client),
        ALERT_JOB: SendSlackAlertHandler(client, alert_channel),
    }
