"""``HookedQueue``: the producer hooks around ``add``/``add_bulk`` of any adapter (ADR 0016), and
the admin hooks after every operator action (ADR 0024).

``with_hooks(backend, hooks)`` is called once where a queue is opened; it returns the backend
itself when no hook observes adds or admin actions, so a queue without such hooks pays nothing.
The admin actions (``pause``, ``resume``, ``clean``, ``remove_job``, ``reprocess_dead_letter(s)``,
``purge_dead_letters``) run, then ``hooks.after_admin`` is awaited with an ``AdminAction`` saying
what was asked and what came of it; a new admin operation on the port is recorded by wrapping it in
``_admin`` the same way. Every other operation is passed through unchanged (the worker's events
come from the worker, not from here).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from application.hooks import Adding, AdminAction, AdminRecordError, Hooks
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

T = TypeVar("T")
logger = logging.getLogger(__name__)


def with_hooks(backend: QueueBackend, hooks: Hooks) -> QueueBackend:
    """``backend`` with the producer and admin hooks of ``hooks`` (itself if there are none)."""
    if not (hooks.observes_adds or hooks.observes_admin):
        return backend
    return HookedQueue(backend, hooks)


def _found(done: bool) -> str:
    return "ok" if done else "not_found"


# Operations no hook observes: bound straight to the inner backend's methods on each instance, so
# the worker's hot path (claim, complete, fail, ...) costs no extra call through the wrapper.
PASSED_THROUGH = (
    "get_job",
    "is_paused",
    "get_stats",
    "list_dead_letters",
    "claim",
    "extend_leases",
    "update_progress",
    "complete",
    "fail",
    "release",
    "hand_back",
)


class HookedQueue(QueueBackend):
    def __init__(self, backend: QueueBackend, hooks: Hooks) -> None:
        self.inner = backend
        self.hooks = hooks
        for name in PASSED_THROUGH:
            if getattr(type(self), name) is getattr(HookedQueue, name):  # a subclass's own method stays
                setattr(self, name, getattr(backend, name))

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

    # --- everything else: passed through -------------------------------------------------------------

    async def get_job(self, job_id: str) -> Job | None:
        return await self.inner.get_job(job_id)

    async def remove_job(self, job_id: str) -> bool:
        return await self._admin(
            "remove", lambda: self.inner.remove_job(job_id), job_ids=(job_id,), outcome=_found
        )

    async def rewrite_payloads(self, rewrite: PayloadRewrite) -> int:
        # Key rotation (ADR 0023): an admin action, recorded by the admin hooks as "keys.rotate".
        return await self._admin("keys.rotate", lambda: self.inner.rewrite_payloads(rewrite), count=int)

    async def pause(self) -> None:
        await self._admin("pause", self.inner.pause)

    async def resume(self) -> None:
        await self._admin("resume", self.inner.resume)

    async def is_paused(self) -> bool:
        return await self.inner.is_paused()

    async def clean(self, grace_ms: int, state: JobState, limit: int = 1000) -> int:
        return await self._admin(
            "clean",
            lambda: self.inner.clean(grace_ms, state, limit),
            params={"state": state.value, "grace_ms": grace_ms, "limit": limit},
            count=int,
        )

    async def get_stats(self) -> QueueStats:
        return await self.inner.get_stats()

    async def list_dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        return await self.inner.list_dead_letters(limit, offset)

    async def reprocess_dead_letter(self, job_id: str) -> bool:
        return await self._admin(
            "dlq.reprocess",
            lambda: self.inner.reprocess_dead_letter(job_id),
            job_ids=(job_id,),
            outcome=_found,
        )

    async def reprocess_dead_letters(self, selection: DeadLetterFilter | None = None) -> int:
        params: dict[str, Any] = {}
        if selection is not None:
            for key in ("name", "reason_contains", "failed_after", "failed_before"):
                if getattr(selection, key) is not None:
                    params[key] = getattr(selection, key)
            if selection.job_ids is not None:
                params["job_ids"] = sorted(selection.job_ids)
        return await self._admin(
            "dlq.reprocess_all",
            lambda: self.inner.reprocess_dead_letters(selection),
            params=params,
            count=int,
        )

    async def purge_dead_letters(self, older_than_ms: int) -> int:
        return await self._admin(
            "dlq.purge",
            lambda: self.inner.purge_dead_letters(older_than_ms),
            params={"older_than_ms": older_than_ms},
            count=int,
        )

    async def _admin(
        self,
        action: str,
        call: Callable[[], Awaitable[T]],
        *,
        params: dict[str, Any] | None = None,
        job_ids: tuple[str, ...] = (),
        outcome: Callable[[T], str] | None = None,
        count: Callable[[T], int] | None = None,
    ) -> T:
        """Run ``call``, then await the admin hooks with what it did (also when it raised).

        A failure to record raises ``AdminRecordError`` after a successful action; after a failed
        one, the action's own error is raised and the recording failure is logged."""
        if not self.hooks.observes_admin:
            return await call()
        record = AdminAction(action, self.inner.name, params or {}, job_ids)
        try:
            result = await call()
        except Exception as error:
            record.outcome, record.error = "failed", error
            try:
                await self.hooks.after_admin(record)
            except AdminRecordError as not_recorded:
                logger.error("%s", not_recorded)
            raise
        if outcome is not None:
            record.outcome = outcome(result)
        if count is not None:
            record.count = count(result)
        await self.hooks.after_admin(record)
        return result

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
