"""Contract behaviour 27: the hooks see what happens to a job, the same on every broker (ADR 0016)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from application.hooked_queue import with_hooks
from application.hooks import Adding, Attempt, Hook, Hooks
from application.queue_backend import ClaimedJob, LeaseRef
from backbone.testing.contract.helpers import (
    ECHO,
    FAIL,
    SLOW,
    eventually,
    recording_handler,
    running_worker,
    wait_for_state,
)
from domain.queue.errors import InvalidMetadataError, PermanentError
from domain.queue.job import JobState, NewJob
from domain.queue.metadata import JobMetadata
from domain.queue.options import JobOptions


class RecordingHook(Hook):
    """Every event as (event, job id, attempt number) in the order the hooks were called."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int]] = []
        self.adds: list[Adding] = []
        self.attempts: list[Attempt] = []

    def before_add(self, adding: Adding) -> None:
        self.adds.append(adding)

    def after_add(self, adding: Adding) -> None:
        for job in adding.jobs or ():
            self.events.append(("added", job.id, 0))

    def on_claimed(self, queue: str, claimed: Sequence[ClaimedJob]) -> None:
        self.events.extend(("claimed", c.job.id, c.job.attempts_started) for c in claimed)

    def _note(self, event: str, attempt: Attempt) -> None:
        self.events.append((event, attempt.job.id, attempt.number))
        self.attempts.append(attempt)

    def on_started(self, attempt: Attempt) -> None:
        self._note("started", attempt)

    def on_completed(self, attempt: Attempt) -> None:
        self._note("completed", attempt)

    def on_retry_scheduled(self, attempt: Attempt) -> None:
        self._note("retry_scheduled", attempt)

    def on_dead_lettered(self, attempt: Attempt) -> None:
        self._note("dead_lettered", attempt)

    def on_lease_lost(self, attempt: Attempt) -> None:
        self._note("lease_lost", attempt)

    def on_handed_back(self, attempt: Attempt) -> None:
        self._note("handed_back", attempt)

    def on_released(self, queue: str, leases: Sequence[LeaseRef]) -> None:
        self.events.extend(("released", lease.job_id, 0) for lease in leases)

    def of(self, job_id: str) -> list[tuple[str, int]]:
        return [(event, number) for event, seen, number in self.events if seen == job_id]


class HookBehaviours:
    # 27. hooks see every step of a job -------------------------------------------------------------

    async def test_hooks_see_a_job_added_claimed_started_and_completed(self, queue: Any) -> None:
        hook = RecordingHook()
        producer = with_hooks(queue, Hooks([hook]))
        job = await producer.add(ECHO, {"x": 1})
        async with running_worker(queue, {ECHO: recording_handler([])}, hooks=(hook,)):
            await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert hook.of(job.id) == [("added", 0), ("claimed", 1), ("started", 1), ("completed", 1)]
        [adding] = hook.adds
        assert (adding.queue, adding.bulk, adding.error) == (queue.name, False, None)
        assert adding.duration_ms > 0
        assert hook.attempts[-1].duration_ms >= 0 and hook.attempts[-1].queue == queue.name

    async def test_hooks_see_a_retry_then_a_dead_letter_with_the_error(self, queue: Any) -> None:
        hook = RecordingHook()

        async def fails(payload: Any, ctx: Any) -> None:
            raise RuntimeError(f"attempt {ctx.job.attempts_started} broke")

        job = await queue.add(FAIL, {}, JobOptions(attempts=2))
        async with running_worker(queue, {FAIL: fails}, hooks=(hook,)):
            await wait_for_state(queue, job.id, JobState.FAILED)
        assert hook.of(job.id) == [
            ("claimed", 1),
            ("started", 1),
            ("retry_scheduled", 1),
            ("claimed", 2),
            ("started", 2),
            ("dead_lettered", 2),
        ]
        _, retried, _, dead = hook.attempts  # started, retry scheduled, started, dead-lettered
        assert isinstance(retried.error, RuntimeError) and retried.retry_delay_ms is not None
        assert dead.reason == "RuntimeError: attempt 2 broke" and dead.retry_delay_ms is None

    async def test_hooks_see_a_permanent_failure_dead_lettered_at_once(self, queue: Any) -> None:
        hook = RecordingHook()

        async def refuses(payload: Any, ctx: Any) -> None:
            raise PermanentError("no")

        job = await queue.add(FAIL, {}, JobOptions(attempts=3))
        async with running_worker(queue, {FAIL: refuses}, hooks=(hook,)):
            await wait_for_state(queue, job.id, JobState.FAILED)
        assert hook.of(job.id) == [("claimed", 1), ("started", 1), ("dead_lettered", 1)]

    async def test_hooks_see_a_hand_back_without_a_start(self, queue: Any) -> None:
        hook = RecordingHook()
        job = await queue.add(SLOW, {})
        async with running_worker(
            queue, {ECHO: recording_handler([])}, hooks=(hook,), unknown_job_delay_ms=3_600_000
        ):
            await eventually(lambda: _has(hook, job.id, "handed_back"), message="the hand-back hook")
        assert hook.of(job.id) == [("claimed", 1), ("handed_back", 1)]
        [attempt] = hook.attempts
        assert attempt.retry_delay_ms == 3_600_000 and SLOW in (attempt.reason or "")

    async def test_producer_hooks_see_a_bulk_add_and_may_change_the_metadata_stored(self, queue: Any) -> None:
        class Stamping(Hook):
            def before_add(self, adding: Adding) -> None:
                adding.entries[:] = [
                    NewJob(e.name, e.data, e.options, _with_context(e.metadata)) for e in adding.entries
                ]

        hook = RecordingHook()
        producer = with_hooks(queue, Hooks([Stamping(), hook]))
        jobs = await producer.add_bulk([NewJob(ECHO, {"i": i}) for i in range(3)])
        assert [(event, job_id) for event, job_id, _ in hook.events] == [("added", job.id) for job in jobs]
        stored = await queue.get_job(jobs[0].id)
        assert stored.metadata.business_context == {"stamped": True}
        assert hook.adds[0].bulk is True

    async def test_headers_set_by_a_producer_hook_reach_the_worker_hooks_of_every_attempt(
        self, queue: Any
    ) -> None:
        traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

        class Injecting(Hook):
            def before_add(self, adding: Adding) -> None:
                adding.entries[:] = [
                    NewJob(e.name, e.data, e.options, _with_headers(e.metadata, traceparent))
                    for e in adding.entries
                ]

        class Extracting(Hook):
            def __init__(self) -> None:
                self.seen: list[dict[str, str]] = []

            def on_started(self, attempt: Attempt) -> None:
                self.seen.append(attempt.job.metadata.headers)

        async def flaky(payload: Any, ctx: Any) -> None:
            if ctx.job.attempts_started == 1:
                raise RuntimeError("once")

        extracting = Extracting()
        job = await with_hooks(queue, Hooks([Injecting()])).add(FAIL, {}, JobOptions(attempts=2))
        async with running_worker(queue, {FAIL: flaky}, hooks=(extracting,)):
            done = await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert extracting.seen == [{"traceparent": traceparent}] * 2
        assert done.metadata.headers == {"traceparent": traceparent}

    async def test_metadata_headers_that_are_not_text_are_refused_at_add(self, queue: Any) -> None:
        with pytest.raises(InvalidMetadataError) as caught:
            await queue.add(ECHO, {}, metadata=JobMetadata(headers={"traceparent": 1}))  # type: ignore[dict-item]
        assert caught.value.field == "metadata.headers"
        assert (await queue.get_stats()).total == 0


def _with_headers(metadata: JobMetadata | None, traceparent: str) -> JobMetadata:
    base = metadata or JobMetadata()
    return replace(base, headers={**base.headers, "traceparent": traceparent})


def _with_context(metadata: JobMetadata | None) -> JobMetadata:
    base = metadata or JobMetadata()
    return replace(base, business_context={**base.business_context, "stamped": True})


async def _has(hook: RecordingHook, job_id: str, event: str) -> bool:
    return any(seen == event for seen, _ in hook.of(job_id))
