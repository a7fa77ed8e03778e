"""The messages module's queue and job type (seed 003's ``MESSAGE_CLEANUP`` and ``cleanup-messages``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CLEANUP_QUEUE = "message-cleanup"
CLEANUP_JOB = "message.cleanup.v1"


class CleanupMessages(BaseModel):
    """Seed 003's cleanup job: delete messages older than ``retention_days``, ``batch_size`` at a time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cleanup_type: Literal["old_messages"] = "old_messages"
    retention_days: int = Field(default=90, ge=1, le=3650)
    batch_size: int = Field(default=1000, ge=1, le=100_000)
    dry_run: bool = False
