"""``HookedQueue``: the producer hooks around ``add``/``add_bulk`` of any adapter (ADR 0016).

``with_hooks(backend, hooks)`` is called once where a queue is opened; it returns the backend
itself when no hook observes adds, so a queue without producer hooks pays nothing. Every other
operation is passed through unchanged (the worker's events come from the worker, not from here),
except the run-time schedule changes, which ``on_schedule_changed`` sees (ADR 0022).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from application.hooks import Adding, Hooks, ScheduleChange
from application.queue_backend import (
    ClaimedJob,
    ClaimRequest,
    FailureReport,
    LeaseRef,
    PayloadRewrite,
    QueueBackend,
)
from domain.queue.job import (
    DeadLetter,
    DeadLetterFilter,
    Job,
    JobState,
    JsonValue,
    NewJob,
    Progress,
    QueueStats,
)
from domain.queue.metadata import JobMetadata
from domain.queue.options import JobOptions
from domain.queue.schedule import Schedule


def with_hooks(backend: QueueBackend, hooks: Hooks) -> QueueBackend:
    """``backend`` with the producer hooks of ``hooks`` around its adds (itself if there are none)."""
    if not hooks.observes_adds and not hooks.observes_schedules:
        return backend
    return HookedQueue(backend, hooks)


class HookedQueue(QueueBackend):
    def __init__(self, backend: QueueBackend, hooks: Hooks) -> None:
        self.inner = backend
        self.hooks = hooks

    @property
    def name(self) -> str:
        return self.inner.name

    # --- producer side: the hooks -----------------------------------------------------------------

    async def add(
        self,
        name: str,
        data: JsonValue,
        options: JobOptions | None = None,
        metadata: JobMetadata | None = None,
    ) -> Job:
        adding = Adding(self.inner.name, [NewJob(name, data, options, metadata)], bulk=False)
        self.hooks.before_add(adding)
        entry = adding.entries[0]
        started = time.perf_counter()
        try:
            job = await self.inner.add(entry.name, entry.data, entry.options, entry.metadata)
        except BaseException as error:
            self._after(adding, started, error)
            raise
        adding.jobs = [job]
        self._after(adding, started, None)
        return job

    async def add_bulk(self, jobs: Sequence[NewJob]) -> list[Job]:
        adding = Adding(self.inner.name, list(jobs), bulk=True)
        self.hooks.before_add(adding)
        started = time.perf_counter()
        try:
            added = await self.inner.add_bulk(adding.entries)
        except BaseException as error:
            self._after(adding, started, error)
            raise
        adding.jobs = added
        self._after(adding, started, None)
        return added

    def _after(self, adding: Adding, started: float, error: BaseException | None) -> None:
        adding.duration_ms = (time.perf_counter() - started) * 1000
        adding.error = error
        self.hooks.after_add(adding)

    # --- run-time schedules: the admin hook -------------------------------------------------------

    async def upsert_schedule(self, schedule: Schedule) -> Schedule:
        change = ScheduleChange(self.inner.name, "upsert", str(getattr(schedule, "name", "")))
        try:
            change.schedule = await self.inner.upsert_schedule(schedule)
        except BaseException as error:
            change.error = error
            raise
        finally:
            self.hooks.on_schedule_changed(change)
        return change.schedule

    async def remove_schedule(self, name: str) -> bool:
        change = ScheduleChange(self.inner.name, "remove", str(name))
        try:
            change.removed = await self.inner.remove_schedule(name)
        except BaseException as error:
            change.error = error
            raise
        finally:
            self.hooks.on_schedule_changed(change)
        return change.removed

    async def list_schedules(self) -> list[Schedule]:
        return await self.inner.list_schedules()

    # --- everything else: passed through -------------------------------------------------------------

    async def get_job(self, job_id: str) -> Job | None:
        return await self.inner.get_job(job_id)

    async def remove_job(self, job_id: str) -> bool:
        return await self.inner.remove_job(job_id)

    async def rewrite_payloads(self, rewrite: PayloadRewrite) -> int:
        # Key rotation (ADR 0023): an admin action, recorded by the admin hooks as "keys.rotate".
        return await self.inner.rewrite_payloads(rewrite)

    async def pause(self) -> None:
        await self.inner.pause()

    async def resume(self) -> None:
        await self.inner.resume()

    async def is_paused(self) -> bool:
        return await self.inner.is_paused()

    async def clean(self, grace_ms: int, state: JobState, limit: int = 1000) -> int:
        return await self.inner.clean(grace_ms, state, limit)

    async def get_stats(self) -> QueueStats:
        return await self.inner.get_stats()

    async def list_dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        return await self.inner.list_dead_letters(limit, offset)

    async def reprocess_dead_letter(self, job_id: str) -> bool:
        return await self.inner.reprocess_dead_letter(job_id)

    async def reprocess_dead_letters(self, selection: DeadLetterFilter | None = None) -> int:
        return await self.inner.reprocess_dead_letters(selection)

    async def purge_dead_letters(self, older_than_ms: int) -> int:
        return await self.inner.purge_dead_letters(older_than_ms)

    async def close(self) -> None:
        await self.inner.close()

    async def claim(self, request: ClaimRequest) -> Sequence[ClaimedJob]:
        return await self.inner.claim(request)

    async def extend_leases(self, worker_id: str, leases: Sequence[LeaseRef], lease_ms: int) -> list[str]:
        return await self.inner.extend_leases(worker_id, leases, lease_ms)

    async def update_progress(self, lease: LeaseRef, progress: Progress) -> bool:
        return await self.inner.update_progress(lease, progress)

    async def complete(self, lease: LeaseRef, return_json: str) -> bool:
        return await self.inner.complete(lease, return_json)

    async def fail(self, lease: LeaseRef, report: FailureReport) -> bool:
        return await self.inner.fail(lease, report)

    async def release(self, worker_id: str, leases: Sequence[LeaseRef]) -> None:
        await self.inner.release(worker_id, leases)

    async def hand_back(self, lease: LeaseRef, delay_ms: int) -> bool:
        return await self.inner.hand_back(lease, delay_ms)
