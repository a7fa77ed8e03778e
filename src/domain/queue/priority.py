"""Priorities: 1 is the highest, 10 the lowest (BullMQ semantics, seed 002)."""

from __future__ import annotations

from enum import IntEnum

HIGHEST_PRIORITY = 1
LOWEST_PRIORITY = 10


class Priority(IntEnum):
    """The seeds' named levels. Any integer in 1..10 is accepted."""

    CRITICAL = 1  # system alerts, failures
    HIGH = 3  # user notifications, time-sensitive work
    NORMAL = 5  # standard business operations (the default)
    LOW = 7  # background processing
    BULK = 10  # bulk operations, cleanup
