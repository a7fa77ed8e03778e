"""Seed 003's nightly cleanup inside ``backbone demo``: the module-declared ``message-cleanup``
schedule (``0 2 * * *`` UTC) fired once by a real ``Scheduler`` on a demo clock (ADR 0022).

The demo lasts seconds, so its scheduler reads a clock set ``LEAD_MS`` before a 02:00 UTC slot and
running at real speed from there: the slot passes during the demo and the scheduler adds its job
exactly as a ``backbone worker`` adds it at 02:00 (same job id ``schedule:message-cleanup:<slot>``,
same dedup); the cleanup worker runs it against messages seeded into the in-memory store, older and
younger than the 90 days of retention. The output says that the clock is the demo's. On a
persistent broker a later night is used for each run, so an earlier run's slot is not deduplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, field

from adapters.outbound.message_stores import InMemoryMessageStore
from application.clock import Clock, system_clock
from application.scheduling import ScheduledQueue, Scheduler
from application.worker import Worker
from bootstrap.commands import out
from bootstrap.container import Container
from bootstrap.queues import QueueHandles
from bootstrap.render import iso_time
from bootstrap.scheduling import ScheduleRow
from bootstrap.wiring import WorkerFactory
from domain.messages.jobs import CLEANUP_QUEUE
from domain.messages.module import NIGHTLY_CLEANUP
from domain.queue.job import Job, JobState
from domain.queue.options import DAY_MS

LEAD_MS = 1000  # the demo clock starts this long before the slot
OLD_MESSAGES = 120  # created 100 days ago: past the 90 days of retention
RECENT_MESSAGES = 80  # created 10 days ago: kept
MAX_NIGHTS_AHEAD = 36_500  # persistent brokers: a random later night per run


@dataclass(slots=True)
class DemoCleanup:
    """The cleanup part of one demo run (absent when the messages module is not enabled)."""

    row: ScheduleRow | None = None
    handles: QueueHandles | None = None
    store: InMemoryMessageStore | None = None
    slot_ms: int = 0
    offset_ms: int = 0
    workers: list[Worker] = field(default_factory=list)
    scheduler: Scheduler | None = None
    task: asyncio.Task[None] | None = None
    job: Job | None = None

    @staticmethod
    async def prepare(container: Container, factory: WorkerFactory, persistent: bool) -> DemoCleanup:
        rows: tuple[ScheduleRow, ...] = container.schedules()
        row = next((r for r in rows if r.timetable.schedule.name == NIGHTLY_CLEANUP.name), None)
        store = container.message_store()
        if row is None or not isinstance(store, InMemoryMessageStore):
            return DemoCleanup()
        now = system_clock()
        for index in range(OLD_MESSAGES):
            store.add(f"demo-old-{index}", now - 100 * DAY_MS)
        for index in range(RECENT_MESSAGES):
            store.add(f"demo-recent-{index}", now - 10 * DAY_MS)
        nights = 1 + secrets.randbelow(MAX_NIGHTS_AHEAD) if persistent else 0
        slot = row.timetable.next_after(now + LEAD_MS + nights * DAY_MS)
        assert slot is not None  # an open-ended cron schedule always has a next slot
        worker = await factory.build(CLEANUP_QUEUE, block_ms=100, shutdown_grace_ms=2000)
        handles: QueueHandles = container.queues()
        return DemoCleanup(row, handles, store, slot, slot - LEAD_MS - now, [worker])

    def start(self, *, announce: bool = True) -> None:
        if self.row is None or self.handles is None:
            return
        offset = self.offset_ms

        def demo_clock() -> int:
            return system_clock() + offset

        clock: Clock = demo_clock
        entry = ScheduledQueue(self.row.timetable, self.handles.handle(self.row.queue))
        self.scheduler = Scheduler([entry], clock)
        self.task = asyncio.create_task(self.scheduler.run(), name="demo-scheduler")
        if not announce:
            return
        seeded = OLD_MESSAGES + RECENT_MESSAGES
        out(
            f"message-cleanup: {seeded} messages seeded ({OLD_MESSAGES} older than 90 days); schedule "
            f"'{NIGHTLY_CLEANUP.cron}' {NIGHTLY_CLEANUP.timezone} on a demo clock set to "
            f"{iso_time(self.slot_ms - LEAD_MS)}, {LEAD_MS} ms before a slot "
            "(the queue and jobs use real time)"
        )

    async def finish(self, timeout_s: float) -> None:
        """Wait (bounded) until the slot's job finished, then stop the scheduler."""
        if self.row is None or self.handles is None:
            return
        queue = self.handles.handle(self.row.queue)
        job_id = self.row.timetable.schedule.slot_key(self.slot_ms)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while True:
                    self.job = await queue.get_job(job_id)
                    if self.job is not None and self.job.state in (JobState.COMPLETED, JobState.FAILED):
                        break
                    await asyncio.sleep(0.02)
        await self.stop()

    async def stop(self) -> None:
        if self.scheduler is not None and self.task is not None:
            self.scheduler.request_stop()
            await asyncio.wait_for(self.task, 15)
            self.task = None

    def report(self) -> None:
        if self.row is None:
            out("message-cleanup: not part of this run (the messages module is not enabled)")
            return
        slot = iso_time(self.slot_ms)
        left = len(self.store.created_at) if self.store is not None else 0
        if self.job is None:
            out(f"message-cleanup: slot {slot} (demo clock) did NOT fire within the demo")
            return
        added = self.scheduler.counts.added if self.scheduler is not None else 0
        out(
            f"message-cleanup: slot {slot} (demo clock) added {added} job -> {self.job.id} "
            f"{self.job.state.value}: {self.job.return_value}"
        )
        out(
            f"message-cleanup: {left} of {OLD_MESSAGES + RECENT_MESSAGES} seeded messages left "
            f"({RECENT_MESSAGES} younger than the 90 days of retention)"
        )


__all__ = ["DemoCleanup"]
