"""``Scheduler``: adds each schedule's due slot to its queue, in every process that runs one.

Exactly one job per slot, however many schedulers run and however often they restart: each slot
is added with a job id and an idempotency key derived from the schedule's name and the slot
(``schedule:<name>:<slot_ms>``), so every add after the first is deduplicated by the queue itself,
on every broker; the idempotency key outlives the job (retention removing it does not let the slot
run again) for longer than a slot may be caught up. No leader, no adapter change (ADR 0020).

Besides the module-declared schedules it is built with, it reads the run-time schedules stored on
each of its ``sources`` queues (``list_schedules``) every ``refresh_ms``: a schedule added through
the port is added by every process's scheduler from its next refresh on, one removed is no longer
added (ADR 0022). A declared schedule wins over a run-time one of the same name on the same queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from application.clock import Clock
from application.scheduling.timetable import Timetable, compile_schedule
from domain.queue.errors import InvalidJobError
from domain.queue.job import Job
from domain.queue.metadata import JobMetadata, UserRef
from domain.queue.options import DAY_MS, JobOptions
from domain.queue.port import IGenericQueue

logger = logging.getLogger(__name__)

DEFAULT_POLL_MS = 1000  # the longest sleep: a clock that jumps is noticed within this
DEFAULT_ADD_TIMEOUT_MS = 10_000
DEFAULT_REFRESH_MS = 5000  # how soon a run-time schedule change reaches every scheduler
SOURCE = "backbone-scheduler"


@dataclass(slots=True)
class ScheduledQueue:
    """One schedule and the queue its job goes to."""

    timetable: Timetable
    queue: IGenericQueue
    last_slot: int | None = None  # the last slot this process saw added (or deduplicated)


@dataclass(slots=True)
class SchedulerCounts:
    added: int = 0  # slots this process stored
    deduplicated: int = 0  # slots another process (or an earlier run) had stored already
    errors: int = 0  # adds that failed or timed out (retried at the next look)
    by_schedule: dict[str, int] = field(default_factory=dict)


def idempotency_ttl_ms(timetable: Timetable) -> int:
    """How long a slot's key must outlive its job: longer than any process may still add the slot."""
    return min(365 * DAY_MS, max(DAY_MS, 2 * timetable.schedule.catch_up_ms))


class Scheduler:
    """Looks at the schedules at every slot (and at least every ``poll_ms``) until ``request_stop``."""

    def __init__(
        self,
        entries: Sequence[ScheduledQueue],
        clock: Clock,
        *,
        poll_ms: int = DEFAULT_POLL_MS,
        add_timeout_ms: int = DEFAULT_ADD_TIMEOUT_MS,
        sources: Sequence[IGenericQueue] = (),
        refresh_ms: int = DEFAULT_REFRESH_MS,
    ) -> None:
        self.entries = list(entries)  # the module-declared schedules
        self.clock = clock
        self.poll_ms = poll_ms
        self.add_timeout_ms = add_timeout_ms
        self.sources = list(sources)  # queues whose run-time schedules this scheduler adds
        self.refresh_ms = refresh_ms
        self.counts = SchedulerCounts()
        self._stop = asyncio.Event()
        self._runtime: dict[str, dict[str, ScheduledQueue]] = {}  # queue -> name -> entry
        self._refreshed_at: int | None = None

    @property
    def all_entries(self) -> list[ScheduledQueue]:
        """The declared schedules and the run-time ones read at the last refresh."""
        runtime = [entry for by_name in self._runtime.values() for entry in by_name.values()]
        return self.entries + runtime

    async def refresh(self, now_ms: int | None = None) -> None:
        """Read the run-time schedules of every source queue; a queue that cannot be read keeps the
        schedules read before (logged), so an outage does not stop what was already known."""
        self._refreshed_at = self.clock() if now_ms is None else now_ms
        declared = {(entry.queue.name, entry.timetable.schedule.name) for entry in self.entries}
        for queue in self.sources:
            try:
                stored = await asyncio.wait_for(queue.list_schedules(), self.add_timeout_ms / 1000)
            except Exception as exc:
                logger.warning(
                    "scheduler: reading the schedules of queue %s failed (%s: %s); kept the last read",
                    queue.name, type(exc).__name__, exc,
                )  # fmt: skip
                continue
            before = self._runtime.get(queue.name, {})
            now: dict[str, ScheduledQueue] = {}
            for schedule in stored:
                if (queue.name, schedule.name) in declared:
                    logger.warning(
                        "scheduler: run-time schedule %s on queue %s is ignored: a module declares it",
                        schedule.name, queue.name,
                    )  # fmt: skip
                    continue
                known = before.get(schedule.name)
                if known is not None and known.timetable.schedule == schedule:
                    now[schedule.name] = known  # unchanged: keep the last slot this process added
                else:
                    now[schedule.name] = ScheduledQueue(compile_schedule(schedule), queue)
            self._runtime[queue.name] = now

    def request_stop(self) -> None:
        self._stop.set()

    async def add_slot(self, entry: ScheduledQueue, slot: int) -> Job:
        """Add one slot's job (deduplicated if any process added it before)."""
        schedule = entry.timetable.schedule
        key = schedule.slot_key(slot)
        options = JobOptions(
            job_id=key, idempotency_key=key, idempotency_ttl=idempotency_ttl_ms(entry.timetable)
        )
        metadata = JobMetadata(
            correlation_id=key,
            user=UserRef.system(),
            source=SOURCE,
            business_context={"schedule": schedule.name, "slot_ms": slot},
        )
        job = await asyncio.wait_for(
            entry.queue.add(schedule.job, schedule.data, options, metadata), self.add_timeout_ms / 1000
        )
        if job.deduplicated:
            self.counts.deduplicated += 1
        else:
            self.counts.added += 1
            self.counts.by_schedule[schedule.name] = self.counts.by_schedule.get(schedule.name, 0) + 1
            logger.info(
                "schedule %s: added job %s for slot %d",
                schedule.name,
                job.id,
                slot,
                extra={"job_id": job.id, "correlation_id": key},
            )
        entry.last_slot = slot
        return job

    async def tick(self, now_ms: int | None = None) -> list[Job]:
        """One look at every schedule: add its due slot unless this process already did."""
        now = self.clock() if now_ms is None else now_ms
        if self.sources and (self._refreshed_at is None or abs(now - self._refreshed_at) >= self.refresh_ms):
            await self.refresh(now)
        jobs = []
        for entry in self.all_entries:
            slot = entry.timetable.due(now)
            if slot is None or slot == entry.last_slot:
                continue
            name = entry.timetable.schedule.name
            extra = {"correlation_id": entry.timetable.schedule.slot_key(slot)}
            try:
                jobs.append(await self.add_slot(entry, slot))
            except InvalidJobError as exc:  # the queue refuses this job: retrying cannot help
                entry.last_slot = slot
                self.counts.errors += 1
                logger.error("schedule %s: slot %d refused by the queue: %s", name, slot, exc, extra=extra)
            except Exception as exc:  # a broker outage, a timeout: the slot is retried at the next look
                self.counts.errors += 1
                logger.warning(
                    "schedule %s: adding slot %d failed (%s: %s); retried at the next look",
                    name, slot, type(exc).__name__, exc, extra=extra,
                )  # fmt: skip
        return jobs

    def _sleep_ms(self, now: int) -> int:
        upcoming = [entry.timetable.next_after(now) for entry in self.all_entries]
        soonest = min((slot for slot in upcoming if slot is not None), default=None)
        if soonest is None:
            return self.poll_ms
        return max(1, min(self.poll_ms, soonest - now))

    async def run(self) -> None:
        """Tick until ``request_stop``; every wait is bounded by ``poll_ms``."""
        names = ", ".join(entry.timetable.schedule.name for entry in self.entries)
        logger.info(
            "scheduler started: %d declared schedules (%s), run-time ones read from %d queues",
            len(self.entries), names or "none", len(self.sources),
        )  # fmt: skip
        while not self._stop.is_set():
            await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._sleep_ms(self.clock()) / 1000)
        logger.info(
            "scheduler stopped: added=%d deduplicated=%d errors=%d",
            self.counts.added,
            self.counts.deduplicated,
            self.counts.errors,
        )


__all__ = ["ScheduledQueue", "Scheduler", "SchedulerCounts", "idempotency_ttl_ms"]
