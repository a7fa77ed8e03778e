"""The scheduler's reading of run-time schedules (ADR 0022): what it keeps across refreshes, what a
declared schedule of the same name does, and what an unreadable queue does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.memory.broker import MemoryBroker
from application.clock import ManualClock
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobType, JobTypes
from application.queue_backend import QueueBackend
from application.scheduling import ScheduledQueue, Scheduler, compile_schedule
from domain.queue.schedule import Schedule

JOB = "refresh.tick.v1"
START_MS = 1_800_000_000_000


@pytest.fixture
async def broker() -> AsyncIterator[MemoryBroker]:
    broker = MemoryBroker.from_url("memory://", clock=ManualClock(START_MS))
    yield broker
    await broker.close()


@pytest.fixture
async def queue(broker: MemoryBroker) -> QueueBackend:
    return await broker.open_queue(JobFactory("refresh", JobTypes([JobType(JOB)])))


def every_second(name: str = "tick", every_ms: int = 1000) -> Schedule:
    return Schedule(name=name, job=JOB, every_ms=every_ms)


async def test_a_refresh_keeps_an_unchanged_schedule_and_the_slot_this_process_added(
    queue: QueueBackend,
) -> None:
    await queue.upsert_schedule(every_second())
    scheduler = Scheduler([], ManualClock(START_MS), sources=[queue])
    await scheduler.tick(START_MS)
    [entry] = scheduler.all_entries

    await scheduler.refresh()

    assert scheduler.all_entries == [entry]
    assert entry.last_slot == START_MS
    assert scheduler.counts.added == 1


async def test_a_changed_schedule_is_compiled_again_at_the_next_refresh(queue: QueueBackend) -> None:
    await queue.upsert_schedule(every_second())
    scheduler = Scheduler([], ManualClock(START_MS), sources=[queue])
    await scheduler.refresh()
    await queue.upsert_schedule(every_second(every_ms=60_000))

    await scheduler.refresh()

    assert [entry.timetable.schedule.every_ms for entry in scheduler.all_entries] == [60_000]


async def test_a_declared_schedule_wins_over_a_run_time_one_of_the_same_name(queue: QueueBackend) -> None:
    declared = ScheduledQueue(compile_schedule(every_second(every_ms=5000)), queue)
    await queue.upsert_schedule(every_second())
    scheduler = Scheduler([declared], ManualClock(START_MS), sources=[queue])

    await scheduler.refresh()

    assert scheduler.all_entries == [declared]


async def test_a_queue_that_cannot_be_read_keeps_the_schedules_read_before(
    broker: MemoryBroker, queue: QueueBackend
) -> None:
    await queue.upsert_schedule(every_second())
    scheduler = Scheduler([], ManualClock(START_MS), sources=[queue])
    await scheduler.refresh()
    await broker.close()  # every call on its queues now raises BrokerUnavailableError

    await scheduler.refresh()

    assert [entry.timetable.schedule.name for entry in scheduler.all_entries] == ["tick"]


async def test_the_scheduler_reads_again_only_after_its_refresh_interval(queue: QueueBackend) -> None:
    scheduler = Scheduler([], ManualClock(START_MS), sources=[queue], refresh_ms=5000)
    await scheduler.tick(START_MS)  # the first tick reads: nothing stored yet
    await queue.upsert_schedule(every_second())

    await scheduler.tick(START_MS + 1000)
    assert scheduler.all_entries == []
    await scheduler.tick(START_MS + 5000)
    assert [entry.timetable.schedule.name for entry in scheduler.all_entries] == ["tick"]
