"""Contract behaviours 30 and 31: job logs (``ctx.log``, ``get_job_logs``) and listing the jobs of
one state with paging (``list_jobs``), ADR 0026."""

from __future__ import annotations

from typing import Any

import pytest

from application.jobs.job_types import JobTypes
from application.queue_arguments import MAX_LOG_LINE_CHARS
from application.queue_backend import ClaimRequest, FailureReport, LeaseRef
from backbone.testing.contract.helpers import (
    ECHO,
    FAIL,
    fast_defaults,
    now_ms,
    running_worker,
    wait_for_state,
)
from backbone.testing.contract.support import BrokerUnderTest
from domain.queue.context import JobContext
from domain.queue.errors import InvalidOptionError
from domain.queue.job import JobState
from domain.queue.options import JobOptions, KeepJobs
from domain.queue.priority import Priority

HOUR_MS = 3_600_000


def logging_handler(*lines: str) -> Any:
    async def handle(payload: Any, ctx: JobContext) -> Any:
        for line in lines:
            await ctx.log(line)
        return {"logged": len(lines)}

    return handle


async def _texts(queue: Any, job_id: str) -> list[str] | None:
    """The texts of a job's log lines (None if the job does not exist)."""
    lines = await queue.get_job_logs(job_id)
    return None if lines is None else [line.text for line in lines]


async def _claim_one(queue: Any, worker: str = "inspector") -> Any:
    [claimed] = await queue.claim(ClaimRequest(worker, 1, 60_000, block_ms=2000))
    return claimed


class InspectionBehaviours:
    # 30. job logs ----------------------------------------------------------------------------------

    async def test_lines_a_handler_logs_are_kept_with_the_job_oldest_first_with_their_time(
        self, queue: Any
    ) -> None:
        before = now_ms()
        job = await queue.add(ECHO, {"n": 1})
        async with running_worker(queue, {ECHO: logging_handler("fetched the rate", "charged the card")}):
            await wait_for_state(queue, job.id, JobState.COMPLETED)
        lines = await queue.get_job_logs(job.id)
        assert lines is not None
        assert [line.text for line in lines] == ["fetched the rate", "charged the card"]
        assert all(before - 1000 <= line.at <= now_ms() + 1000 for line in lines)
        assert lines[0].at <= lines[1].at

    async def test_lines_of_every_attempt_are_kept_in_the_order_they_were_logged(self, queue: Any) -> None:
        async def fails_first(payload: Any, ctx: JobContext) -> Any:
            await ctx.log(f"attempt {ctx.attempt}")
            if ctx.attempt == 1:
                raise RuntimeError("first attempt fails")
            return None

        job = await queue.add(FAIL, {}, JobOptions(attempts=2))
        async with running_worker(queue, {FAIL: fails_first}):
            await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert await _texts(queue, job.id) == ["attempt 1", "attempt 2"]

    async def test_only_the_newest_keep_logs_lines_of_a_job_are_kept(
        self, broker: BrokerUnderTest, queue_name: str, job_types: JobTypes
    ) -> None:
        handle = await broker.open_queue(f"{queue_name}-k3", job_types, fast_defaults(keep_logs=3))
        try:
            job = await handle.add(ECHO, {})
            async with running_worker(handle, {ECHO: logging_handler("1", "2", "3", "4", "5")}):
                await wait_for_state(handle, job.id, JobState.COMPLETED)
            assert await _texts(handle, job.id) == ["3", "4", "5"]
        finally:
            await handle.close()

    async def test_a_queue_that_keeps_no_log_lines_stores_none(
        self, broker: BrokerUnderTest, queue_name: str, job_types: JobTypes
    ) -> None:
        handle = await broker.open_queue(f"{queue_name}-k0", job_types, fast_defaults(keep_logs=0))
        try:
            job = await handle.add(ECHO, {})
            async with running_worker(handle, {ECHO: logging_handler("not kept")}):
                await wait_for_state(handle, job.id, JobState.COMPLETED)
            assert await handle.get_job_logs(job.id) == []
        finally:
            await handle.close()

    async def test_a_line_longer_than_the_limit_is_cut_to_the_limit(self, queue: Any) -> None:
        job = await queue.add(ECHO, {})
        async with running_worker(queue, {ECHO: logging_handler("x" * (MAX_LOG_LINE_CHARS + 500))}):
            await wait_for_state(queue, job.id, JobState.COMPLETED)
        [line] = await queue.get_job_logs(job.id)
        assert len(line.text) == MAX_LOG_LINE_CHARS
        assert line.text.endswith("...")

    async def test_a_job_that_never_logged_has_no_lines_and_an_unknown_job_has_none(self, queue: Any) -> None:
        job = await queue.add(ECHO, {})
        assert await queue.get_job_logs(job.id) == []
        assert await queue.get_job_logs("no-such-job") is None

    async def test_logs_are_removed_with_the_job(self, queue: Any) -> None:
        job = await queue.add(ECHO, {})
        async with running_worker(queue, {ECHO: logging_handler("gone with the job")}):
            await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert await queue.remove_job(job.id)
        assert await queue.get_job_logs(job.id) is None
        again = await queue.add(ECHO, {}, JobOptions(job_id=job.id))
        assert await queue.get_job_logs(again.id) == []

    async def test_logs_of_a_job_removed_by_retention_are_removed_with_it(self, queue: Any) -> None:
        keep_one = JobOptions(remove_on_complete=KeepJobs(count=1))
        first = await queue.add(ECHO, {"n": 1}, keep_one)
        async with running_worker(queue, {ECHO: logging_handler("first")}):
            await wait_for_state(queue, first.id, JobState.COMPLETED)
            second = await queue.add(ECHO, {"n": 2}, keep_one)
            await wait_for_state(queue, second.id, JobState.COMPLETED)
        assert await queue.get_job(first.id) is None
        assert await queue.get_job_logs(first.id) is None
        recreated = await queue.add(ECHO, {}, JobOptions(job_id=first.id))
        assert await queue.get_job_logs(recreated.id) == []

    async def test_a_stale_lease_cannot_log_and_a_line_must_be_a_string(self, queue: Any) -> None:
        job = await queue.add(ECHO, {})
        claimed = await _claim_one(queue)
        assert not await queue.append_log(LeaseRef(job.id, "not-the-token"), "from a stale worker")
        with pytest.raises(InvalidOptionError) as raised:
            await queue.append_log(LeaseRef(job.id, claimed.token), 42)
        assert raised.value.field == "text"
        assert await queue.append_log(LeaseRef(job.id, claimed.token), "from the holder")
        assert await _texts(queue, job.id) == ["from the holder"]
        await queue.release("inspector", [LeaseRef(job.id, claimed.token)])

    # 31. listing the jobs of one state ---------------------------------------------------------------

    async def test_waiting_jobs_are_listed_in_claim_order(self, queue: Any) -> None:
        normal_1 = await queue.add(ECHO, {"n": 1})
        urgent = await queue.add(ECHO, {"n": 2}, JobOptions(priority=Priority.CRITICAL))
        normal_2 = await queue.add(ECHO, {"n": 3})
        bulk = await queue.add(ECHO, {"n": 4}, JobOptions(priority=Priority.BULK))
        listed = await queue.list_jobs(JobState.WAITING)
        assert [job.id for job in listed] == [urgent.id, normal_1.id, normal_2.id, bulk.id]
        assert [job.data for job in listed] == [{"n": 2}, {"n": 1}, {"n": 3}, {"n": 4}]
        assert {job.state for job in listed} == {JobState.WAITING}
        claimed = await _claim_one(queue)
        assert claimed.job.id == listed[0].id

    async def test_delayed_jobs_are_listed_by_due_time(self, queue: Any) -> None:
        late = await queue.add(ECHO, {}, JobOptions(delay=3 * HOUR_MS))
        soon = await queue.add(ECHO, {}, JobOptions(delay=HOUR_MS))
        middle = await queue.add(ECHO, {}, JobOptions(delay=2 * HOUR_MS))
        listed = await queue.list_jobs(JobState.DELAYED)
        assert [job.id for job in listed] == [soon.id, middle.id, late.id]
        assert [job.due_at for job in listed] == sorted(job.due_at for job in listed)

    async def test_active_jobs_are_listed_most_recently_started_first(self, queue: Any) -> None:
        first = await queue.add(ECHO, {"n": 1})
        second = await queue.add(ECHO, {"n": 2})
        leases = []
        for _ in range(2):
            claimed = await _claim_one(queue)
            leases.append(LeaseRef(claimed.job.id, claimed.token))
        listed = await queue.list_jobs(JobState.ACTIVE)
        assert [job.id for job in listed] == [second.id, first.id]
        assert {job.state for job in listed} == {JobState.ACTIVE}
        await queue.release("inspector", leases)

    async def test_completed_jobs_are_listed_newest_first(self, queue: Any) -> None:
        ids = [(await queue.add(ECHO, {"n": n})).id for n in range(3)]
        for _ in ids:
            claimed = await _claim_one(queue)
            assert await queue.complete(LeaseRef(claimed.job.id, claimed.token), '{"ok":true}')
        listed = await queue.list_jobs(JobState.COMPLETED)
        assert [job.id for job in listed] == list(reversed(ids))
        assert [job.return_value for job in listed] == [{"ok": True}] * 3

    async def test_failed_jobs_are_listed_newest_first_as_the_dead_letters_are(self, queue: Any) -> None:
        ids = [(await queue.add(ECHO, {"n": n}, JobOptions(attempts=1))).id for n in range(3)]
        for _ in ids:
            claimed = await _claim_one(queue)
            report = FailureReport("broken", None, retry_delay_ms=None)
            assert await queue.fail(LeaseRef(claimed.job.id, claimed.token), report)
        listed = await queue.list_jobs(JobState.FAILED)
        assert [job.id for job in listed] == list(reversed(ids))
        assert [job.id for job in listed] == [letter.job_id for letter in await queue.list_dead_letters()]
        assert {job.failed_reason for job in listed} == {"broken"}

    async def test_a_page_is_limit_jobs_from_offset(self, queue: Any) -> None:
        ids = [(await queue.add(ECHO, {"n": n})).id for n in range(5)]
        page = await queue.list_jobs(JobState.WAITING, limit=2, offset=1)
        assert [job.id for job in page] == ids[1:3]
        assert [job.id for job in await queue.list_jobs(JobState.WAITING, limit=10, offset=3)] == ids[3:]
        assert await queue.list_jobs(JobState.WAITING, limit=10, offset=5) == []
        assert await queue.list_jobs(JobState.WAITING, limit=0) == []
        assert await queue.list_jobs(JobState.COMPLETED) == []

    @pytest.mark.parametrize(
        ("arguments", "field"),
        [
            ({"state": "finished"}, "state"),
            ({"state": JobState.REMOVED}, "state"),
            ({"state": JobState.WAITING, "limit": -1}, "limit"),
            ({"state": JobState.WAITING, "offset": -1}, "offset"),
            ({"state": JobState.WAITING, "limit": "ten"}, "limit"),
        ],
    )
    async def test_a_bad_state_limit_or_offset_is_refused_naming_the_field(
        self, queue: Any, arguments: dict[str, Any], field: str
    ) -> None:
        with pytest.raises(InvalidOptionError) as raised:
            await queue.list_jobs(**arguments)
        assert raised.value.field == field
