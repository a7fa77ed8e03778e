"""When a schedule fires: pure next/previous slot computation (no I/O, no clock of its own).

A ``Timetable`` is a compiled ``Schedule``: its cron expression parsed by ``cronsim`` (in the
schedule's time zone, DST as Debian cron) or its interval, with ``start_ms``/``end_ms`` and the
repeat ``limit`` folded into one last slot. Every slot is an epoch millisecond on a whole second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from domain.queue.errors import InvalidOptionError
from domain.queue.schedule import Schedule


def _to_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Timetable:
    """The slots of one schedule. Build it with ``compile_schedule``."""

    schedule: Schedule
    zone: ZoneInfo
    first_ms: int | None  # no slot before this
    last_ms: int | None  # no slot after this (end_ms, or the limit-th slot)

    def _cron_after(self, ms: int) -> int | None:
        assert self.schedule.cron is not None
        moment = datetime.fromtimestamp(ms / 1000, self.zone)
        try:
            return _to_ms(next(CronSim(self.schedule.cron, moment)))
        except StopIteration:  # no such date within cronsim's search horizon (e.g. 30 Feb)
            return None

    def _cron_at_or_before(self, ms: int) -> int | None:
        assert self.schedule.cron is not None
        # cronsim's reverse iteration from an instant with a fraction of a second includes that
        # whole second, so ms + 1 makes "at or before ms" out of its "strictly before".
        moment = datetime.fromtimestamp((ms + 1) / 1000, self.zone)
        try:
            return _to_ms(next(CronSim(self.schedule.cron, moment, reverse=True)))
        except StopIteration:
            return None

    def _raw_after(self, ms: int) -> int | None:
        every = self.schedule.every_ms
        if every is None:
            return self._cron_after(ms)
        anchor = self.schedule.start_ms or 0
        if ms < anchor:
            return anchor
        return anchor + ((ms - anchor) // every + 1) * every

    def _raw_at_or_before(self, ms: int) -> int | None:
        every = self.schedule.every_ms
        if every is None:
            return self._cron_at_or_before(ms)
        anchor = self.schedule.start_ms or 0
        if ms < anchor:
            return None
        return anchor + ((ms - anchor) // every) * every

    def next_after(self, ms: int) -> int | None:
        """The first slot strictly after ``ms``, or ``None`` when the schedule has ended."""
        if self.first_ms is not None and ms < self.first_ms:
            ms = self.first_ms - 1
        slot = self._raw_after(ms)
        if slot is None or (self.last_ms is not None and slot > self.last_ms):
            return None
        return slot

    def latest_at_or_before(self, ms: int) -> int | None:
        """The last slot at or before ``ms`` (``None`` before the first one)."""
        if self.last_ms is not None:
            ms = min(ms, self.last_ms)
        slot = self._raw_at_or_before(ms)
        if slot is None or (self.first_ms is not None and slot < self.first_ms):
            return None
        return slot

    def due(self, now_ms: int) -> int | None:
        """The slot to add now: the latest one at or before ``now_ms`` if it is at most
        ``catch_up_ms`` old; older missed slots are skipped (ADR 0020)."""
        slot = self.latest_at_or_before(now_ms)
        if slot is None or now_ms - slot > self.schedule.catch_up_ms:
            return None
        return slot

    def upcoming(self, after_ms: int, count: int) -> list[int]:
        """Up to ``count`` slots strictly after ``after_ms``."""
        slots: list[int] = []
        at = after_ms
        while len(slots) < count:
            slot = self.next_after(at)
            if slot is None:
                break
            slots.append(slot)
            at = slot
        return slots


def compile_schedule(schedule: Schedule) -> Timetable:
    """Parse the cron expression and fold the bounds in; ``InvalidOptionError`` naming the field."""
    zone = ZoneInfo(schedule.timezone)
    if schedule.cron is not None:
        try:
            CronSim(schedule.cron, datetime.now(zone))
        except CronSimError as exc:
            raise InvalidOptionError(
                f"schedules.{schedule.name}.cron",
                "must be a cron expression: 5 fields (minute hour day month weekday) or 6 with seconds first",
                detail=f"{schedule.cron!r}: {exc}",
            ) from None
    open_ended = Timetable(schedule, zone, schedule.start_ms, schedule.end_ms)
    if schedule.limit is None:
        return open_ended
    assert schedule.start_ms is not None  # Schedule requires a start with a limit
    slots = open_ended.upcoming(schedule.start_ms - 1, schedule.limit)
    last = slots[-1] if len(slots) == schedule.limit else schedule.end_ms
    return Timetable(schedule, zone, schedule.start_ms, last)


__all__ = ["Timetable", "compile_schedule"]
