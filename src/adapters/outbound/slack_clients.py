"""Slack clients that need no workspace: JSON lines to a stream/file, or in memory."""

from __future__ import annotations

import dataclasses
import logging

from adapters.outbound.json_lines import JsonLinesSink
from domain.slack.ports import SlackClient, SlackMessage, SlackUnavailableError

logger = logging.getLogger(__name__)


class JsonLinesSlackClient(SlackClient):
    def __init__(self, sink: JsonLinesSink) -> None:
        self._sink = sink

    async def post(self, message: SlackMessage) -> None:
        try:
            await self._sink.write(dataclasses.asdict(message))
        except OSError as exc:
            raise SlackUnavailableError(f"slack sink not writable: {exc.strerror or exc}") from exc
        logger.info(
            "slack message %s posted to %s (correlation_id=%s)",
            message.message_id,
            message.channel,
            message.correlation_id,
        )


class InMemorySlackClient(SlackClient):
    def __init__(self) -> None:
        self.posted: list[SlackMessage] = []

    async def post(self, message: SlackMessage) -> None:
        self.posted.append(message)
