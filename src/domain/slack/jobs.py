"""Queue and job names of the slack module, and the payload model of each job."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MESSAGES_QUEUE = "slack-messages"
ALERTS_QUEUE = "slack-alerts"

CHANNEL_MESSAGE_JOB = "slack.channel.send.v1"
ALERT_JOB = "slack.alert.send.v1"

Channel = Annotated[str, StringConstraints(pattern=r"^[#@]?[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")]
AlertType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
DedupKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")]
FieldValue = str | int | float | bool


class AlertSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SendSlackMessage(_Payload):
    channel: Channel
    text: Annotated[str, StringConstraints(min_length=1, max_length=40_000)]
    urgent: bool = False


class SendSlackAlert(_Payload):
    """An operational alert. ``dedup_key`` (e.g. the payment id) makes the alert once-only."""

    alert_type: AlertType
    summary: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    severity: AlertSeverity = AlertSeverity.CRITICAL
    dedup_key: DedupKey | None = None
    fields: dict[str, FieldValue] = Field(default_factory=dict)


JOB_MODELS: dict[str, type[BaseModel]] = {
    CHANNEL_MESSAGE_JOB: SendSlackMessage,
    ALERT_JOB: SendSlackAlert,
}
