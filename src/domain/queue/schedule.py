"""``Schedule``: a job a module wants added on a timetable (a cron expression or a fixed interval).

Plain data checked here for what needs no cron library (names, exactly one of ``cron`` and
``every_ms``, the time zone, the bounds); the cron expression itself is parsed by
``application.scheduling`` when the composition root compiles the schedules (ADR 0020).
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from domain.queue.errors import InvalidJobError, InvalidOptionError
from domain.queue.naming import validate_job_name
from domain.queue.options import DAY_MS, MAX_DELAY_MS

SCHEDULE_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")
SCHEDULE_NAME_RULE = "must be kebab-case: lowercase letters, digits and '-', 1..80 characters"
MIN_INTERVAL_MS = 1000
MAX_LIMIT = 10_000
DEFAULT_CATCH_UP_MS = 60 * 60 * 1000  # a slot missed by less than an hour still runs (once)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Add the job ``job`` with ``data`` at every slot of the timetable.

    - ``cron``: five fields (minute hour day month weekday) or six with seconds first
      (``*/15 * * * * *``), in ``timezone`` (an IANA name; DST as Debian cron: a fixed time in a
      skipped hour runs when the clock jumps, a fixed time in a repeated hour runs once);
    - ``every_ms``: a fixed interval (at least 1 s), slots at ``start_ms + k * every_ms`` (from
      the epoch when there is no start);
    - ``start_ms`` / ``end_ms``: epoch ms bounds (inclusive); ``limit``: at most this many slots,
      counted from ``start_ms`` (so it needs one);
    - ``catch_up_ms``: a slot missed (no process running) by at most this long is added once, at
      the next look; older missed slots are skipped. Only the latest missed slot is ever added.
    """

    name: str
    job: str
    data: Any = field(default_factory=dict)
    cron: str | None = None
    every_ms: int | None = None
    timezone: str = "UTC"
    start_ms: int | None = None
    end_ms: int | None = None
    limit: int | None = None
    catch_up_ms: int = DEFAULT_CATCH_UP_MS

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not SCHEDULE_NAME_PATTERN.fullmatch(self.name):
            raise InvalidOptionError("schedule.name", SCHEDULE_NAME_RULE, detail=f"got {self.name!r}")
        prefix = f"schedules.{self.name}"
        try:
            validate_job_name(self.job)
        except InvalidJobError as exc:
            raise InvalidOptionError(f"{prefix}.job", exc.rule) from None
        if (self.cron is None) == (self.every_ms is None):
            raise InvalidOptionError(prefix, "must set exactly one of cron and every_ms")
        if self.cron is not None and (not isinstance(self.cron, str) or not self.cron.strip()):
            raise InvalidOptionError(f"{prefix}.cron", "must be a non-empty cron expression")
        if self.every_ms is not None:
            _check_int(f"{prefix}.every_ms", self.every_ms, MIN_INTERVAL_MS, 366 * DAY_MS)
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            raise InvalidOptionError(
                f"{prefix}.timezone",
                "must be an IANA time zone name such as 'Europe/Berlin'",
                detail=f"got {self.timezone!r}",
            ) from None
        for bound in ("start_ms", "end_ms"):
            value = getattr(self, bound)
            if value is not None:
                _check_int(f"{prefix}.{bound}", value, 0, 10**15)
        if self.start_ms is not None and self.end_ms is not None and self.end_ms < self.start_ms:
            raise InvalidOptionError(f"{prefix}.end_ms", "must not be before start_ms")
        if self.limit is not None:
            _check_int(f"{prefix}.limit", self.limit, 1, MAX_LIMIT)
            if self.start_ms is None:
                raise InvalidOptionError(f"{prefix}.limit", "needs start_ms (the slots are counted from it)")
        _check_int(f"{prefix}.catch_up_ms", self.catch_up_ms, 0, MAX_DELAY_MS)

    def slot_key(self, slot_ms: int) -> str:
        """The job id and idempotency key of one slot: the same in every process, for ever."""
        return f"schedule:{self.name}:{slot_ms}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON fields (how a run-time schedule is stored on the broker, ADR 0022)."""
        return {name: getattr(self, name) for name in SCHEDULE_FIELDS}

    @staticmethod
    def from_dict(value: object) -> Schedule:
        """The inverse of ``to_dict``; ``InvalidOptionError`` for anything else (a raw client's write)."""
        if not isinstance(value, dict) or not set(value) <= set(SCHEDULE_FIELDS):
            raise InvalidOptionError(
                "schedule", f"must be an object with the fields {', '.join(SCHEDULE_FIELDS)}"
            )
        if "name" not in value or "job" not in value:
            raise InvalidOptionError("schedule", "must have a name and a job")
        return Schedule(**value)


SCHEDULE_FIELDS = (
    "name",
    "job",
    "data",
    "cron",
    "every_ms",
    "timezone",
    "start_ms",
    "end_ms",
    "limit",
    "catch_up_ms",
)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionError(name, f"must be an integer in {low}..{high}")
    if not low <= value <= high:
        raise InvalidOptionError(name, f"must be in {low}..{high}", detail=f"got {value}")


__all__ = ["DEFAULT_CATCH_UP_MS", "SCHEDULE_FIELDS", "Schedule"]
