"""``backbone schedules list|add|remove``: the declared schedules and the run-time ones (ADR 0020, 0022).

``list`` shows the enabled modules' schedules (from their declarations) and the run-time ones
stored on the broker for each of their queues, with the next fire times. ``add`` stores a run-time
schedule through the port (``upsert_schedule``), ``remove`` deletes one (``remove_schedule``);
both go through the container's queue handles, so the admin hook ``on_schedule_changed`` (an
audit log) sees them. A module-declared schedule cannot be removed here: it is code.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from application.scheduling import Timetable, compile_schedule
from bootstrap.commands import EXIT_FAILED, EXIT_OK, out
from bootstrap.modules import ModuleCatalog
from bootstrap.render import iso_time, table, to_json
from bootstrap.scheduling import ScheduleRow
from bootstrap.settings import SettingsError
from domain.queue.schedule import Schedule

if TYPE_CHECKING:
    from bootstrap.container import Container
    from bootstrap.queues import QueueHandles

RUN_TIME = "run-time"  # the "from" column of a schedule stored through the port


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """``backbone schedules list|add|remove`` (see ``bootstrap.cli``)."""
    p = sub.add_parser(
        "schedules", help="declared and run-time schedules (repeatable jobs)", parents=[common]
    )
    p.set_defaults(run=cmd_schedules)
    sched = p.add_subparsers(dest="schedules_command", required=True, parser_class=type(p), metavar="ACTION")
    s = sched.add_parser("list", parents=[common], help="each schedule with its next fire times")
    s.add_argument("--next", type=int, default=3, metavar="N", help="how many next fire times (default 3)")
    s = sched.add_parser("add", parents=[common], help="store a run-time schedule on the broker")
    s.add_argument("name", help="the schedule's name (unique per queue)")
    s.add_argument("--job", required=True, help="the job name (its queue is the module's route)")
    timetable = s.add_mutually_exclusive_group(required=True)
    timetable.add_argument("--cron", help="5 fields, or 6 with seconds first")
    timetable.add_argument("--every-ms", type=int, help="a fixed interval, at least 1000")
    s.add_argument("--timezone", default="UTC", help="IANA time zone of the cron expression (default UTC)")
    s.add_argument("--data", default="{}", help="the job's payload as JSON (default {})")
    s = sched.add_parser("remove", parents=[common], help="delete a run-time schedule from the broker")
    s.add_argument("name", help="the run-time schedule to delete")


@dataclass(frozen=True, slots=True)
class Listed:
    source: str  # the declaring module's name, or "run-time"
    queue: str
    timetable: Timetable


def _queues(container: Container) -> list[str]:
    catalog: ModuleCatalog = container.catalog()
    return list(dict.fromkeys(queue.name for module in catalog.modules for queue in module.queues))


async def _listed(container: Container) -> list[Listed]:
    declared: tuple[ScheduleRow, ...] = container.schedules()
    listed = [Listed(row.module, row.queue, row.timetable) for row in declared]
    handles: QueueHandles = container.queues()
    for queue in _queues(container):
        for schedule in await handles.handle(queue).list_schedules():
            listed.append(Listed(RUN_TIME, queue, compile_schedule(schedule)))
    return listed


async def cmd_schedules(args: argparse.Namespace, container: Container) -> int:
    if args.schedules_command == "add":
        return await _add(args, container)
    if args.schedules_command == "remove":
        return await _remove(args, container)
    return await _list(args, container)


async def _list(args: argparse.Namespace, container: Container) -> int:
    if not 1 <= args.next <= 100:
        raise SettingsError("--next", f"must be in 1..100 (got {args.next})")
    now = container.clock()()
    result = []
    for entry in await _listed(container):
        schedule = entry.timetable.schedule
        result.append(
            {
                "name": schedule.name,
                "from": entry.source,
                "queue": entry.queue,
                "job": schedule.job,
                "timetable": schedule.cron if schedule.cron is not None else f"every {schedule.every_ms} ms",
                "timezone": schedule.timezone,
                "next": [iso_time(slot) for slot in entry.timetable.upcoming(now, args.next)],
            }
        )
    if args.json:
        out(to_json(result))
        return EXIT_OK
    rows = [
        (
            r["name"],
            r["from"],
            r["queue"],
            r["job"],
            r["timetable"],
            r["timezone"],
            ", ".join(r["next"]) or "ended",
        )
        for r in result
    ]
    out(table(("schedule", "from", "queue", "job", "timetable", "timezone", "next fire (UTC)"), rows))
    return EXIT_OK


async def _add(args: argparse.Namespace, container: Container) -> int:
    catalog: ModuleCatalog = container.catalog()
    queue = catalog.route(args.job)
    if queue is None:
        known = ", ".join(sorted(catalog.jobs)) or "none"
        raise SettingsError("--job", f"must be a job of an enabled module (got {args.job!r}; known: {known})")
    _refuse_declared(container, args.name, "add")
    try:
        data = json.loads(args.data)
    except json.JSONDecodeError as exc:
        raise SettingsError("--data", f"must be valid JSON ({exc.msg} at position {exc.pos})") from None
    schedule = Schedule(
        name=args.name,
        job=args.job,
        data=data,
        cron=args.cron,
        every_ms=args.every_ms,
        timezone=args.timezone,
    )
    handles: QueueHandles = container.queues()
    stored = await handles.handle(queue).upsert_schedule(schedule)
    upcoming = ", ".join(iso_time(slot) for slot in compile_schedule(stored).upcoming(container.clock()(), 3))
    out(f"stored schedule {stored.name} on queue {queue}; next fire (UTC): {upcoming or 'ended'}")
    return EXIT_OK


async def _remove(args: argparse.Namespace, container: Container) -> int:
    _refuse_declared(container, args.name, "remove")
    handles: QueueHandles = container.queues()
    removed_from = [
        queue for queue in _queues(container) if await handles.handle(queue).remove_schedule(args.name)
    ]
    if not removed_from:
        out(f"no run-time schedule {args.name} on the queues of the enabled modules")
        return EXIT_FAILED
    out(f"removed schedule {args.name} from queue {', '.join(removed_from)}")
    return EXIT_OK


def _refuse_declared(container: Container, name: str, verb: str) -> None:
    declared: tuple[ScheduleRow, ...] = container.schedules()
    for row in declared:
        if row.timetable.schedule.name == name:
            raise SettingsError(
                "schedule",
                f"{name!r} is declared by module {row.module}: {verb} it in the module's schedules",
            )


def _fires(slots: list[str]) -> str:
    return ", ".join(slots) or "ended"


__all__ = ["cmd_schedules", "register"]
