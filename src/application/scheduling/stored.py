"""Run-time schedules as a queue stores them: one JSON text per schedule name (ADR 0022).

``encode_schedule`` is what every adapter calls in ``upsert_schedule`` before anything is stored:
it refuses (``InvalidJobError`` naming ``schedules.<name>.<field>``) what could never fire on this
queue (not a ``Schedule``, a cron expression cronsim does not parse, a job this queue does not
take, data that is not a valid payload of the job) and returns the canonical text. ``decode_schedules``
reads the stored texts back; one that does not decode (a raw client's write) is logged and skipped,
it never hides the others.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from application.jobs.job_factory import JobFactory
from application.scheduling.timetable import compile_schedule
from domain.queue.errors import InvalidJobError, InvalidOptionError
from domain.queue.schedule import SCHEDULE_NAME_PATTERN, SCHEDULE_NAME_RULE, Schedule

logger = logging.getLogger(__name__)

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def encode_schedule(schedule: object, factory: JobFactory, now: int) -> tuple[Schedule, str]:
    """The schedule checked for ``factory``'s queue and its stored text."""
    if not isinstance(schedule, Schedule):
        raise InvalidOptionError("schedule", "must be a Schedule", detail=f"got {type(schedule).__name__}")
    prefix = f"schedules.{schedule.name}"
    compile_schedule(schedule)  # a cron expression cronsim refuses: InvalidOptionError naming .cron
    try:
        factory.draft(schedule.job, schedule.data, None, None, now)
    except InvalidJobError as exc:
        where = "job" if exc.field == "name" else exc.field if exc.field.startswith("data") else "data"
        raise type(exc)(f"{prefix}.{where}", exc.rule, detail=exc.detail) from None
    return schedule, _ENCODER.encode(schedule.to_dict())


def check_schedule_name(name: object) -> str:
    if not isinstance(name, str) or not SCHEDULE_NAME_PATTERN.fullmatch(name):
        raise InvalidOptionError("schedule.name", SCHEDULE_NAME_RULE, detail=f"got {name!r}")
    return name


def decode_schedule(text: str | bytes) -> Schedule:
    """One stored text back to a ``Schedule``; ``InvalidOptionError`` if it is not one."""
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise InvalidOptionError("schedule", "stored schedule is not JSON") from None
    schedule = Schedule.from_dict(value)
    compile_schedule(schedule)
    return schedule


def decode_schedules(
    queue: str, stored: Mapping[str, str] | Mapping[bytes | str, bytes | str]
) -> list[Schedule]:
    """Every stored schedule that decodes, by name; the others are logged and skipped."""
    schedules = []
    for raw_name, text in stored.items():
        name = raw_name.decode("utf-8", "replace") if isinstance(raw_name, bytes) else raw_name
        try:
            schedule = decode_schedule(text)
        except (InvalidJobError, TypeError) as exc:
            logger.error("queue %s: stored schedule %r is skipped: %s", queue, name, exc)
            continue
        if schedule.name != name:
            logger.error("queue %s: stored schedule %r names itself %r: skipped", queue, name, schedule.name)
            continue
        schedules.append(schedule)
    return sorted(schedules, key=lambda schedule: schedule.name)


__all__ = ["check_schedule_name", "decode_schedule", "decode_schedules", "encode_schedule"]
