"""Contract behaviour 26: a job whose name has no handler in the worker that claimed it is handed
back, not lost (ADR 0017)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from application.queue_backend import ClaimRequest, LeaseRef
from backbone.testing.contract.helpers import (
    ECHO,
    SLOW,
    eventually,
    recording_handler,
    running_worker,
    wait_for_state,
)
from domain.queue.errors import InvalidOptionError
from domain.queue.job import Job, JobState
from domain.queue.options import JobOptions

HOUR_MS = 3_600_000


async def _handed_back(queue: Any, job_id: str, times: int = 1) -> Job | None:
    job: Job | None = await queue.get_job(job_id)
    return job if job is not None and job.hand_backs >= times else None


class HandBackBehaviours:
    # 26. unknown job names are handed back, not lost -------------------------------------------------

    async def test_job_without_a_handler_here_is_handed_back_and_run_by_a_worker_that_knows_it(
        self, queue: Any, other_client: Any
    ) -> None:
        job = await queue.add(SLOW, {"n": 1}, JobOptions(attempts=1))
        async with running_worker(queue, {ECHO: recording_handler([])}, unknown_job_delay_ms=100):
            await eventually(lambda: _handed_back(queue, job.id), message="a hand-back")
        calls: list[tuple[str, Any]] = []
        async with running_worker(other_client, {SLOW: recording_handler(calls)}):
            done = await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert calls == [(job.id, {"n": 1})]
        assert (done.attempts_started, done.attempts_made) == (1, 1)
        assert done.hand_backs >= 1

    async def test_handed_back_job_is_delayed_and_its_attempt_is_not_counted(self, queue: Any) -> None:
        job = await queue.add(SLOW, {}, JobOptions(attempts=1))
        async with running_worker(queue, {ECHO: recording_handler([])}, unknown_job_delay_ms=HOUR_MS):
            back = await eventually(lambda: _handed_back(queue, job.id), message="a hand-back")
        assert (back.state, back.attempts_started, back.attempts_made, back.hand_backs) == (
            JobState.DELAYED,
            0,
            0,
            1,
        )
        assert back.due_at is not None
        stats = await queue.get_stats()
        assert (stats.delayed, stats.active, stats.failed) == (1, 0, 0)

    async def test_hand_back_warns_naming_the_job_name_and_the_names_this_worker_knows(
        self, queue: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        job = await queue.add(SLOW, {})
        with caplog.at_level(logging.WARNING, logger="application.worker.runtime"):
            async with running_worker(queue, {ECHO: recording_handler([])}, unknown_job_delay_ms=HOUR_MS):
                await eventually(lambda: _handed_back(queue, job.id), message="a hand-back")
        [warning] = [r.getMessage() for r in caplog.records if "handed back" in r.getMessage()]
        assert job.id in warning and repr(SLOW) in warning and f"it knows: {ECHO}" in warning

    async def test_job_handed_back_up_to_the_limit_is_dead_lettered_with_that_reason(
        self, queue: Any
    ) -> None:
        job = await queue.add(SLOW, {}, JobOptions(attempts=5))
        async with running_worker(
            queue, {ECHO: recording_handler([])}, unknown_job_delay_ms=20, unknown_job_max_hand_backs=2
        ):
            failed = await wait_for_state(queue, job.id, JobState.FAILED)
        assert failed.hand_backs == 2
        assert failed.attempts_started == 1
        reason = failed.failed_reason or ""
        assert f"no handler for job name {SLOW!r}: handed back 2 times" in reason
        assert ECHO in reason
        [letter] = await queue.list_dead_letters()
        assert letter.job_id == job.id and letter.reason == reason

    async def test_job_stored_with_a_name_that_is_not_a_job_name_is_dead_lettered_not_handed_back(
        self, broker: Any, queue: Any, queue_name: str
    ) -> None:
        await broker.write_raw_job(queue_name, "nameless-1", "", b"{}")  # no worker can know ''
        async with running_worker(queue, {ECHO: recording_handler([])}, unknown_job_delay_ms=HOUR_MS):
            [letter] = await eventually(queue.list_dead_letters, message="a dead letter")
        stats = await queue.get_stats()
        assert (stats.waiting, stats.delayed, stats.active, stats.failed) == (0, 0, 0, 1)
        assert "name" in letter.reason

    async def test_hand_back_with_a_stale_lease_is_refused_and_changes_nothing(self, queue: Any) -> None:
        job = await queue.add(ECHO, {})
        [claimed] = await queue.claim(ClaimRequest("w", 1, 60_000, block_ms=1000))
        assert await queue.hand_back(LeaseRef(job.id, claimed.token + "-stale"), 0) is False
        still = await queue.get_job(job.id)
        assert (still.state, still.attempts_started, still.hand_backs) == (JobState.ACTIVE, 1, 0)

    async def test_hand_back_with_a_negative_delay_is_refused(self, queue: Any) -> None:
        job = await queue.add(ECHO, {})
        [claimed] = await queue.claim(ClaimRequest("w", 1, 60_000, block_ms=1000))
        with pytest.raises(InvalidOptionError, match="delay_ms"):
            await queue.hand_back(LeaseRef(job.id, claimed.token), -1)
        assert (await queue.get_job(job.id)).state is JobState.ACTIVE
