"""Contract behaviours 12-19 and 21-23: the consumer side, through the worker runtime."""

from __future__ import annotations

import asyncio
import functools
import itertools
import random
from typing import Any

from application.queue_backend import ClaimRequest
from backbone.testing.contract.helpers import (
    ECHO,
    FAIL,
    SLOW,
    eventually,
    now_ms,
    recording_handler,
    running_worker,
    wait_for_state,
)
from domain.queue.errors import PermanentError, RetryableError
from domain.queue.job import JobProgress, JobState, NewJob
from domain.queue.options import Backoff, BackoffType, JobOptions, KeepJobs, RateLimit


class ConsumerBehaviours:
    # 12. one handler call at a time; completion stores the result ------------------------------------

    async def test_completed_job_stores_return_value_timestamps_and_attempts(self, queue: Any) -> None:
        before = now_ms()
        job = await queue.add(ECHO, {"x": 1})
        async with running_worker(queue, {ECHO: recording_handler([], result={"answer": 42})}):
            done = await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert done.return_value == {"answer": 42}
        assert done.processed_on is not None and done.finished_on is not None
        assert before - 5 <= done.processed_on <= done.finished_on
        assert (done.attempts_started, done.attempts_made) == (1, 1)

    async def test_every_job_is_handed_to_exactly_one_handler_call(
        self, queue: Any, other_client: Any
    ) -> None:
        calls: list[tuple[str, Any]] = []
        jobs = await queue.add_bulk([NewJob(ECHO, {"i": i}) for i in range(60)])
        async with (
            running_worker(queue, {ECHO: recording_handler(calls)}, concurrency=4),
            running_worker(other_client, {ECHO: recording_handler(calls)}, concurrency=4),
        ):
            for job in jobs:
                await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert sorted(job_id for job_id, _ in calls) == sorted(job.id for job in jobs)

    # 13. priority -----------------------------------------------------------------------------------------

    async def test_lower_priority_number_runs_first_and_fifo_within_a_priority(self, queue: Any) -> None:
        await queue.pause()
        rng = random.Random(13)
        plan = [(priority, index) for index, priority in enumerate(rng.choices([1, 3, 5, 7, 10, 2], k=30))]
        rng.shuffle(plan)
        added = []
        for priority, tag in plan:
            added.append((priority, await queue.add(ECHO, {"tag": tag}, JobOptions(priority=priority))))
        # the order asked for, not the priority the adapter reports back; stable: FIFO per priority
        expected = [job.id for _, job in sorted(added, key=lambda entry: entry[0])]
        calls: list[tuple[str, Any]] = []
        async with running_worker(queue, {ECHO: recording_handler(calls)}, concurrency=1):
            await queue.resume()
            await eventually(lambda: _length_at_least(calls, len(added)), message="all jobs to run")
        assert [job_id for job_id, _ in calls] == expected

    # 14. delays -------------------------------------------------------------------------------------------

    async def test_delayed_job_never_starts_before_its_due_time_and_soon_after(self, queue: Any) -> None:
        starts: dict[str, int] = {}

        async def stamp(payload: Any, ctx: Any) -> None:
            starts[ctx.job.id] = now_ms()

        async with running_worker(queue, {ECHO: stamp}):
            added_at = now_ms()
            job = await queue.add(ECHO, {}, JobOptions(delay=400))
            await wait_for_state(queue, job.id, JobState.COMPLETED)
        waited = starts[job.id] - added_at
        assert 400 <= waited <= 400 + 1000

    async def test_sub_second_delays_are_honoured_in_due_order(self, queue: Any) -> None:
        order: list[int] = []

        async def note(payload: Any, ctx: Any) -> None:
            order.append(payload["delay"])

        async with running_worker(queue, {ECHO: note}, concurrency=1):
            for delay in (450, 150, 300, 50):
                await queue.add(ECHO, {"delay": delay}, JobOptions(delay=delay))
            await eventually(lambda: _length_at_least(order, 4), message="all delayed jobs")
        assert order == [50, 150, 300, 450]

    # 15. concurrency --------------------------------------------------------------------------------------

    async def test_worker_runs_at_most_its_concurrency_at_once(self, queue: Any) -> None:
        running = 0
        peak = 0

        async def track(payload: Any, ctx: Any) -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.03)
            running -= 1

        jobs = await queue.add_bulk([NewJob(ECHO, {"i": i}) for i in range(20)])
        async with running_worker(queue, {ECHO: track}, concurrency=3):
            for job in jobs:
                await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert peak == 3

    # 16. retries and backoff --------------------------------------------------------------------------------

    async def test_failing_job_is_retried_until_its_attempts_are_used_then_dead_lettered(
        self, queue: Any
    ) -> None:
        attempts: list[int] = []

        async def boom(payload: Any, ctx: Any) -> None:
            attempts.append(ctx.attempt)
            raise RuntimeError(f"attempt {ctx.attempt} broke")

        job = await queue.add(FAIL, {}, JobOptions(attempts=3))
        async with running_worker(queue, {FAIL: boom}):
            failed = await wait_for_state(queue, job.id, JobState.FAILED)
        assert attempts == [1, 2, 3]
        assert (failed.attempts_started, failed.attempts_made) == (3, 3)
        assert failed.failed_reason == "RuntimeError: attempt 3 broke"
        assert len(failed.stacktrace) == 3 and "attempt 3 broke" in failed.stacktrace[-1]
        assert [letter.job_id for letter in await queue.list_dead_letters()] == [job.id]

    async def test_job_succeeding_on_a_retry_completes(self, queue: Any) -> None:
        async def flaky(payload: Any, ctx: Any) -> str:
            if ctx.attempt < 2:
                raise RuntimeError("transient")
            return "ok"

        job = await queue.add(FAIL, {})
        async with running_worker(queue, {FAIL: flaky}):
            done = await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert (done.return_value, done.attempts_made) == ("ok", 2)

    async def test_exponential_backoff_doubles_the_wait_between_attempts(self, queue: Any) -> None:
        starts: list[int] = []

        async def boom(payload: Any, ctx: Any) -> None:
            starts.append(now_ms())
            raise RuntimeError("again")

        backoff = Backoff(type=BackoffType.EXPONENTIAL, delay=100, max_delay=None, jitter=0.0)
        job = await queue.add(FAIL, {}, JobOptions(attempts=4, backoff=backoff))
        async with running_worker(queue, {FAIL: boom}):
            await wait_for_state(queue, job.id, JobState.FAILED)
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        assert len(gaps) == 3
        for gap, expected in zip(gaps, (100, 200, 400), strict=True):
            assert expected <= gap <= expected + 1000

    async def test_backoff_is_capped_at_max_delay(self, queue: Any) -> None:
        starts: list[int] = []

        async def boom(payload: Any, ctx: Any) -> None:
            starts.append(now_ms())
            raise RuntimeError("again")

        backoff = Backoff(type=BackoffType.EXPONENTIAL, delay=150, max_delay=150, jitter=0.0)
        job = await queue.add(FAIL, {}, JobOptions(attempts=4, backoff=backoff))
        async with running_worker(queue, {FAIL: boom}):
            await wait_for_state(queue, job.id, JobState.FAILED)
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        assert all(150 <= gap <= 150 + 1000 for gap in gaps)

    # 17. failure categories -----------------------------------------------------------------------------------

    async def test_permanent_error_skips_remaining_attempts(self, queue: Any) -> None:
        calls: list[int] = []

        async def reject(payload: Any, ctx: Any) -> None:
            calls.append(ctx.attempt)
            raise PermanentError("card number is invalid")

        job = await queue.add(FAIL, {}, JobOptions(attempts=5))
        async with running_worker(queue, {FAIL: reject}):
            failed = await wait_for_state(queue, job.id, JobState.FAILED)
        assert calls == [1]
        assert failed.failed_reason == "PermanentError: card number is invalid"

    async def test_retryable_error_delay_overrides_the_backoff(self, queue: Any) -> None:
        starts: list[int] = []

        async def rate_limited(payload: Any, ctx: Any) -> str:
            starts.append(now_ms())
            if ctx.attempt == 1:
                raise RetryableError("429 from provider", retry_delay_ms=500)
            return "sent"

        job = await queue.add(
            FAIL, {}, JobOptions(backoff=Backoff(type=BackoffType.FIXED, delay=10, jitter=0))
        )
        async with running_worker(queue, {FAIL: rate_limited}):
            await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert 500 <= starts[1] - starts[0] <= 1500

    # 18. timeout ------------------------------------------------------------------------------------------------

    async def test_handler_running_past_its_timeout_is_cancelled_and_retried(self, queue: Any) -> None:
        cancelled = asyncio.Event()

        async def sometimes_slow(payload: Any, ctx: Any) -> str:
            if ctx.attempt == 1:
                try:
                    await asyncio.sleep(30)
                except asyncio.CancelledError:
                    cancelled.set()
                    raise
            return "fast enough"

        job = await queue.add(SLOW, {}, JobOptions(timeout=200, attempts=2))
        async with running_worker(queue, {SLOW: sometimes_slow}):
            done = await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert cancelled.is_set()
        assert done.attempts_made == 2
        assert "JobTimeoutError" in done.stacktrace[0] and "200 ms" in done.stacktrace[0]

    # 19. progress -------------------------------------------------------------------------------------------------

    async def test_progress_is_visible_through_get_job_while_the_job_runs(
        self, queue: Any, other_client: Any
    ) -> None:
        reported = asyncio.Event()
        release = asyncio.Event()

        async def steps(payload: Any, ctx: Any) -> None:
            await ctx.update_progress(
                JobProgress(percentage=40.0, step="sending", total_steps=5, current_step=2)
            )
            reported.set()
            await release.wait()
            await ctx.update_progress(100)

        job = await queue.add(SLOW, {})
        async with running_worker(queue, {SLOW: steps}):
            await asyncio.wait_for(reported.wait(), 10)
            running = await other_client.get_job(job.id)
            assert running.state is JobState.ACTIVE
            assert running.progress == JobProgress(
                percentage=40.0, step="sending", total_steps=5, current_step=2
            )
            release.set()
            done = await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert done.progress == 100

    # 21. retention ------------------------------------------------------------------------------------------------

    async def test_remove_on_complete_true_removes_the_job_at_once(self, queue: Any) -> None:
        done = asyncio.Event()

        async def finish(payload: Any, ctx: Any) -> None:
            done.set()

        job = await queue.add(ECHO, {}, JobOptions(remove_on_complete=True))
        async with running_worker(queue, {ECHO: finish}):
            await asyncio.wait_for(done.wait(), 10)
            await eventually(lambda: _is_gone(queue, job.id), message="job removed on completion")
        assert (await queue.get_stats()).total == 0

    async def test_remove_on_complete_n_keeps_only_the_newest_n(self, queue: Any) -> None:
        async with running_worker(queue, {ECHO: recording_handler([])}, concurrency=1):
            jobs = []
            for index in range(5):
                job = await queue.add(ECHO, {"i": index}, JobOptions(remove_on_complete=2))
                jobs.append(job)
                await eventually(functools.partial(_completed_or_gone, queue, job.id), message="completion")
        kept = [job.id for job in jobs if await queue.get_job(job.id) is not None]
        assert kept == [jobs[3].id, jobs[4].id]

    async def test_remove_on_complete_by_age_drops_older_jobs(self, queue: Any) -> None:
        keep = KeepJobs(age=200)
        async with running_worker(queue, {ECHO: recording_handler([])}):
            first = await queue.add(ECHO, {}, JobOptions(remove_on_complete=keep))
            await wait_for_state(queue, first.id, JobState.COMPLETED)
            await asyncio.sleep(0.4)
            second = await queue.add(ECHO, {}, JobOptions(remove_on_complete=keep))
            await wait_for_state(queue, second.id, JobState.COMPLETED)
        assert await queue.get_job(first.id) is None

    async def test_remove_on_fail_true_removes_the_failed_job(self, queue: Any) -> None:
        async def boom(payload: Any, ctx: Any) -> None:
            raise PermanentError("no")

        job = await queue.add(FAIL, {}, JobOptions(remove_on_fail=True))
        async with running_worker(queue, {FAIL: boom}):
            await eventually(lambda: _is_gone(queue, job.id), message="failed job removed")
        assert await queue.list_dead_letters() == []

    async def test_remove_on_complete_false_keeps_every_completed_job(self, queue: Any) -> None:
        jobs = await queue.add_bulk(
            [NewJob(ECHO, {"i": i}, JobOptions(remove_on_complete=False)) for i in range(5)]
        )
        async with running_worker(queue, {ECHO: recording_handler([])}):
            for job in jobs:
                await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert (await queue.get_stats()).completed == 5

    # 22. rate limit ------------------------------------------------------------------------------------------------

    async def test_rate_limit_bounds_jobs_started_per_window_across_workers(
        self, queue: Any, other_client: Any
    ) -> None:
        limit = RateLimit(max=3, duration=400)
        jobs = await queue.add_bulk([NewJob(ECHO, {"i": i}) for i in range(9)])
        async with (
            running_worker(queue, {ECHO: recording_handler([])}, concurrency=4, limiter=limit),
            running_worker(other_client, {ECHO: recording_handler([])}, concurrency=4, limiter=limit),
        ):
            done = [await wait_for_state(queue, job.id, JobState.COMPLETED) for job in jobs]
        windows: dict[int, int] = {}
        for job in done:
            assert job.processed_on is not None
            window = job.processed_on // limit.duration
            windows[window] = windows.get(window, 0) + 1
        assert max(windows.values()) <= 3
        assert len(windows) >= 3

    # 23. graceful shutdown -------------------------------------------------------------------------------------------

    async def test_stopping_worker_finishes_active_jobs_and_hands_back_reserved_ones(
        self, queue: Any
    ) -> None:
        started = asyncio.Event()

        async def slowish(payload: Any, ctx: Any) -> str:
            started.set()
            await asyncio.sleep(0.3)
            return "finished"

        jobs = await queue.add_bulk([NewJob(ECHO, {"i": i}) for i in range(3)])
        async with running_worker(queue, {ECHO: slowish}, concurrency=1, prefetch=2) as worker:
            await asyncio.wait_for(started.wait(), 10)
            await eventually(lambda: _reserved(worker, 2), message="two reserved jobs")
        states = [(await queue.get_job(job.id)) for job in jobs]
        assert states[0].state is JobState.COMPLETED and states[0].return_value == "finished"
        assert [(job.state, job.attempts_started) for job in states[1:]] == [(JobState.WAITING, 0)] * 2

    async def test_job_still_running_after_the_grace_period_is_handed_back(self, queue: Any) -> None:
        started = asyncio.Event()

        async def stuck(payload: Any, ctx: Any) -> None:
            started.set()
            await asyncio.sleep(60)

        job = await queue.add(SLOW, {}, JobOptions(attempts=3))
        async with running_worker(queue, {SLOW: stuck}, shutdown_grace_ms=200):
            await asyncio.wait_for(started.wait(), 10)
        after = await queue.get_job(job.id)
        assert after.state is JobState.WAITING
        assert after.attempts_started == 1

    async def test_claim_waits_for_work_and_returns_empty_when_none_comes(self, queue: Any) -> None:
        before = now_ms()
        claimed = await queue.claim(ClaimRequest("idle-worker", 5, 1000, block_ms=200))
        assert list(claimed) == []
        assert now_ms() - before >= 150


async def _length_at_least(items: list[Any], count: int) -> bool:
    return len(items) >= count


async def _is_gone(queue: Any, job_id: str) -> bool:
    return await queue.get_job(job_id) is None


async def _completed_or_gone(queue: Any, job_id: str) -> bool:
    job = await queue.get_job(job_id)
    return job is None or job.state is JobState.COMPLETED


async def _reserved(worker: Any, count: int) -> bool:
    return bool(worker.reserved_count >= count)
