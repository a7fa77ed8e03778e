"""The enabled modules' schedules: compiled once, and a scheduler for the queues a process works.

``schedule_table(catalog)`` compiles every module's ``Schedule`` (a bad cron expression is a
``ModuleError``, exit code 2, naming the schedule's field); ``build_scheduler`` gives the scheduler
a ``backbone worker`` process runs beside its workers, for the schedules whose job goes to one of
the queues it works (ADR 0020).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from application.clock import Clock
from application.scheduling import ScheduledQueue, Scheduler, Timetable, compile_schedule
from bootstrap.modules import ModuleCatalog, ModuleError
from bootstrap.queues import QueueHandles
from domain.queue.errors import InvalidOptionError
from domain.queue.schedule import Schedule

SCHEDULES_FIELD = "app.modules"


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """One declared schedule: its module, its queue and its compiled timetable."""

    module: str
    queue: str
    timetable: Timetable


def schedule_table(catalog: ModuleCatalog) -> tuple[ScheduleRow, ...]:
    rows = []
    owners: dict[str, str] = {}
    for module in catalog.modules:
        for schedule in module.schedules:
            if schedule.name in owners:
                owner = owners[schedule.name]
                raise ModuleError(f"schedule {schedule.name!r} is declared by both {owner} and {module.name}")
            owners[schedule.name] = module.name
            queue = module.queue_of(schedule.job)
            assert queue is not None  # DomainModule checks that a schedule's job is its own
            try:
                timetable = compile_schedule(schedule)
            except InvalidOptionError as exc:
                raise ModuleError(f"module {module.name}: {exc}") from None
            _check_data(module.name, schedule, catalog)
            rows.append(ScheduleRow(module.name, queue, timetable))
    return tuple(rows)


def _check_data(module: str, schedule: Schedule, catalog: ModuleCatalog) -> None:
    """The schedule's data must be a valid payload of its job: refused at start, not at 02:00."""
    model = catalog.jobs[schedule.job].model
    if model is None:
        return
    try:
        model.model_validate(schedule.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "data"
        raise ModuleError(
            f"module {module}: schedules.{schedule.name}.data: not a valid {schedule.job} payload "
            f"({where}: {first['msg']})"
        ) from None


def build_scheduler(
    rows: Sequence[ScheduleRow], queues: Iterable[str], handles: QueueHandles, clock: Clock, **options: int
) -> Scheduler:
    """A scheduler for the schedules whose job goes to one of ``queues``: the declared ones and the
    run-time ones stored on those queues (ADR 0022)."""
    worked = list(dict.fromkeys(queues))
    entries = [
        ScheduledQueue(row.timetable, handles.handle(row.queue)) for row in rows if row.queue in worked
    ]
    sources = [handles.handle(name) for name in worked]
    return Scheduler(entries, clock, sources=sources, **options)


__all__ = ["ScheduleRow", "build_scheduler", "schedule_table"]
