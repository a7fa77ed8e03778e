"""Next-fire computation of schedules: cron with seconds and time zones (DST), intervals, bounds, limit."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from application.scheduling import compile_schedule
from domain.queue.errors import InvalidOptionError
from domain.queue.schedule import Schedule

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
JOB = "message.cleanup.v1"


def ms(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    tz: ZoneInfo = BERLIN,
    fold: int = 0,
) -> int:
    return round(datetime(year, month, day, hour, minute, second, tzinfo=tz, fold=fold).timestamp() * 1000)


def local(slot: int, tz: ZoneInfo = BERLIN) -> str:
    return datetime.fromtimestamp(slot / 1000, tz).isoformat()


def cron(expression: str, timezone: str = "Europe/Berlin", **fields: int) -> Schedule:
    return Schedule(name="nightly", job=JOB, cron=expression, timezone=timezone, **fields)


def test_a_daily_cron_fires_at_its_local_time_in_its_time_zone() -> None:
    timetable = compile_schedule(cron("0 2 * * *"))

    slots = timetable.upcoming(ms(2026, 1, 10, 12), 2)

    assert [local(s) for s in slots] == ["2026-01-11T02:00:00+01:00", "2026-01-12T02:00:00+01:00"]


def test_a_fixed_time_in_the_skipped_spring_forward_hour_fires_when_the_clock_jumps() -> None:
    timetable = compile_schedule(cron("30 2 * * *"))  # 2026-03-29 02:00 -> 03:00 in Berlin

    slots = timetable.upcoming(ms(2026, 3, 28, 12), 2)

    assert [local(s) for s in slots] == ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]


def test_a_fixed_time_in_the_repeated_fall_back_hour_fires_once() -> None:
    timetable = compile_schedule(cron("30 1 * * *", "America/New_York"))  # 2026-11-01 01:00-02:00 twice

    slots = timetable.upcoming(ms(2026, 10, 31, 12, tz=NEW_YORK), 2)

    assert [local(s, NEW_YORK) for s in slots] == ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]


def test_an_every_half_hour_cron_fires_in_both_passes_of_the_repeated_hour() -> None:
    timetable = compile_schedule(cron("*/30 * * * *"))  # 2026-10-25 02:00-03:00 twice in Berlin

    slots = timetable.upcoming(ms(2026, 10, 25, 1, 45), 4)

    assert [local(s) for s in slots] == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:30:00+01:00",
    ]
    assert [b - a for a, b in itertools.pairwise(slots)] == [1_800_000] * 3


def test_a_six_field_cron_has_seconds_first() -> None:
    timetable = compile_schedule(cron("*/15 * * * * *", "UTC"))

    slots = timetable.upcoming(ms(2026, 1, 1, tz=UTC), 3)

    assert [local(s, UTC) for s in slots] == [
        "2026-01-01T00:00:15+00:00",
        "2026-01-01T00:00:30+00:00",
        "2026-01-01T00:00:45+00:00",
    ]


def test_the_latest_slot_includes_the_instant_of_the_slot_itself() -> None:
    timetable = compile_schedule(cron("0 2 * * *"))

    assert timetable.latest_at_or_before(ms(2026, 1, 11, 2)) == ms(2026, 1, 11, 2)
    assert timetable.latest_at_or_before(ms(2026, 1, 11, 2) - 1) == ms(2026, 1, 10, 2)


def test_an_interval_fires_every_interval_from_its_start() -> None:
    start = ms(2026, 1, 1, 12)
    timetable = compile_schedule(Schedule(name="tick", job=JOB, every_ms=90_000, start_ms=start))

    assert timetable.upcoming(start - 5_000, 3) == [start, start + 90_000, start + 180_000]
    assert timetable.latest_at_or_before(start - 1) is None


def test_no_slot_comes_after_the_end() -> None:
    start = ms(2026, 1, 1, 12)
    schedule = Schedule(name="tick", job=JOB, every_ms=60_000, start_ms=start, end_ms=start + 120_000)

    assert compile_schedule(schedule).upcoming(start - 1, 10) == [start, start + 60_000, start + 120_000]


def test_a_repeat_limit_ends_the_schedule_after_that_many_slots() -> None:
    start = ms(2026, 1, 10)
    timetable = compile_schedule(cron("0 2 * * *", start_ms=start, limit=2))

    assert [local(s) for s in timetable.upcoming(start - 1, 5)] == [
        "2026-01-10T02:00:00+01:00",
        "2026-01-11T02:00:00+01:00",
    ]
    assert timetable.next_after(ms(2026, 1, 11, 3)) is None


def test_a_missed_slot_within_the_catch_up_window_is_due_once_for_the_latest_slot() -> None:
    start = ms(2026, 1, 1, 12)
    timetable = compile_schedule(
        Schedule(name="tick", job=JOB, every_ms=60_000, start_ms=start, catch_up_ms=30_000)
    )

    assert timetable.due(start + 5 * 60_000 + 10_000) == start + 5 * 60_000  # four older slots skipped
    assert timetable.due(start + 5 * 60_000 + 40_000) is None  # the latest is older than the window


def test_a_malformed_cron_expression_is_refused_naming_the_schedule_field() -> None:
    with pytest.raises(InvalidOptionError) as refused:
        compile_schedule(cron("61 2 * * *"))

    assert refused.value.field == "schedules.nightly.cron"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cron": "0 2 * * *", "every_ms": 60_000}, "schedules.nightly"),
        ({}, "schedules.nightly"),
        ({"every_ms": 10}, "schedules.nightly.every_ms"),
        ({"every_ms": 60_000, "timezone": "Mars/Olympus"}, "schedules.nightly.timezone"),
        ({"every_ms": 60_000, "limit": 3}, "schedules.nightly.limit"),
        ({"every_ms": 60_000, "start_ms": 2_000, "end_ms": 1_000}, "schedules.nightly.end_ms"),
    ],
)
def test_an_invalid_schedule_is_refused_naming_the_field(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidOptionError) as refused:
        Schedule(name="nightly", job=JOB, **fields)  # type: ignore[arg-type]

    assert refused.value.field == field
