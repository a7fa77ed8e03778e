"""Worker runtime behaviours beyond the contract: correlation, logs, results, progress rules."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from adapters.memory import MemoryBroker
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from backbone.testing.contract.helpers import eventually, running_worker, wait_for_state
from domain.queue.context import JobContext
from domain.queue.errors import InvalidOptionError
from domain.queue.job import JobState
from domain.queue.metadata import JobMetadata
from domain.queue.options import Backoff, BackoffType, JobOptions, QueueDefaults

PARENT = "parent.job.v1"
CHILD = "child.job.v1"


@pytest.fixture
def job_types() -> JobTypes:
    types = JobTypes()
    types.register(PARENT)
    types.register(CHILD)
    return types


@pytest.fixture
def queue(job_types: JobTypes) -> Any:
    defaults = QueueDefaults(attempts=1, backoff=Backoff(BackoffType.FIXED, delay=10, jitter=0))
    return MemoryBroker().queue(JobFactory("unit", job_types, defaults))


async def test_job_enqueued_from_a_handler_inherits_the_correlation_id(
    queue: Any, job_types: JobTypes
) -> None:
    children: list[str] = []

    async def parent(payload: Any, ctx: JobContext) -> None:
        children.append((await queue.add(CHILD, {})).id)

    async def child(payload: Any, ctx: JobContext) -> None:
        return None

    job = await queue.add(PARENT, {}, metadata=JobMetadata(correlation_id="corr-42"))
    async with running_worker(queue, {PARENT: parent, CHILD: child}, job_types):
        await wait_for_state(queue, job.id, JobState.COMPLETED)
        child_job = await wait_for_state(queue, children[0], JobState.COMPLETED)
    assert child_job.metadata.correlation_id == "corr-42"


async def test_handler_logs_carry_job_id_queue_attempt_and_correlation_id(
    queue: Any, job_types: JobTypes, caplog: pytest.LogCaptureFixture
) -> None:
    async def parent(payload: Any, ctx: JobContext) -> None:
        ctx.logger.info("charging card")

    caplog.set_level(logging.INFO, logger="backbone.handler")
    job = await queue.add(PARENT, {}, metadata=JobMetadata(correlation_id="corr-7"))
    async with running_worker(queue, {PARENT: parent}, job_types):
        await wait_for_state(queue, job.id, JobState.COMPLETED)
    [record] = [r for r in caplog.records if r.getMessage() == "charging card"]
    fields = record.job  # type: ignore[attr-defined]
    assert (fields.job_id, fields.queue, fields.attempt, fields.correlation_id) == (
        job.id,
        "unit",
        1,
        "corr-7",
    )


async def test_handlers_own_timeout_error_is_not_reported_as_a_job_timeout(
    queue: Any, job_types: JobTypes
) -> None:
    async def parent(payload: Any, ctx: JobContext) -> None:
        raise TimeoutError("upstream HTTP call timed out")

    job = await queue.add(PARENT, {}, JobOptions(timeout=60_000))
    async with running_worker(queue, {PARENT: parent}, job_types):
        failed = await wait_for_state(queue, job.id, JobState.FAILED)
    assert failed.failed_reason == "TimeoutError: upstream HTTP call timed out"


async def test_result_that_is_not_json_fails_the_attempt(queue: Any, job_types: JobTypes) -> None:
    async def parent(payload: Any, ctx: JobContext) -> object:
        return object()

    job = await queue.add(PARENT, {})
    async with running_worker(queue, {PARENT: parent}, job_types):
        failed = await wait_for_state(queue, job.id, JobState.FAILED)
    assert "return value" in (failed.failed_reason or "")


async def test_progress_out_of_range_is_refused(queue: Any, job_types: JobTypes) -> None:
    errors: list[Exception] = []

    async def parent(payload: Any, ctx: JobContext) -> None:
        try:
            await ctx.update_progress(150)
        except InvalidOptionError as exc:
            errors.append(exc)

    job = await queue.add(PARENT, {})
    async with running_worker(queue, {PARENT: parent}, job_types):
        await wait_for_state(queue, job.id, JobState.COMPLETED)
    assert [e.field for e in errors] == ["progress"]  # type: ignore[attr-defined]


async def test_worker_metrics_count_successes_and_dead_letters(queue: Any, job_types: JobTypes) -> None:
    async def parent(payload: Any, ctx: JobContext) -> None:
        if payload.get("fail"):
            raise RuntimeError("no")

    ok = await queue.add(PARENT, {})
    bad = await queue.add(PARENT, {"fail": True})
    async with running_worker(queue, {PARENT: parent}, job_types) as worker:
        await wait_for_state(queue, ok.id, JobState.COMPLETED)
        await wait_for_state(queue, bad.id, JobState.FAILED)
    assert (worker.metrics.succeeded, worker.metrics.failed, worker.metrics.dead_lettered) == (1, 1, 1)


async def test_reserve_is_topped_up_while_every_slot_is_busy(queue: Any, job_types: JobTypes) -> None:
    release = asyncio.Event()
    started: list[str] = []

    async def parent(payload: Any, ctx: JobContext) -> None:
        started.append(ctx.job.id)
        await release.wait()

    first = await queue.add(PARENT, {})
    async with running_worker(queue, {PARENT: parent}, job_types, concurrency=1, prefetch=2) as worker:
        await wait_for_state(queue, first.id, JobState.ACTIVE)
        later = [await queue.add(PARENT, {"n": n}) for n in range(2)]
        await eventually(lambda: _reserved(worker, 2), message="two jobs reserved behind the busy slot")
        assert started == [first.id]
        release.set()
        for job in later:
            await wait_for_state(queue, job.id, JobState.COMPLETED)


async def _reserved(worker: Any, count: int) -> bool:
    return bool(worker.reserved_count >= count)


@pytest.mark.parametrize(
    ("field", "value"), [("unknown_job_delay_ms", -1), ("unknown_job_max_hand_backs", -1)]
)
def test_hand_back_options_out_of_range_are_refused_naming_the_option(field: str, value: int) -> None:
    from application.worker import WorkerOptions

    with pytest.raises(InvalidOptionError) as caught:
        WorkerOptions(**{field: value})  # type: ignore[arg-type]
    assert caught.value.field == field


async def test_worker_metrics_count_hand_backs_and_not_as_failures(queue: Any, job_types: JobTypes) -> None:
    job = await queue.add(CHILD, {})

    async def parent(payload: Any, ctx: JobContext) -> None:
        return None

    async with running_worker(queue, {PARENT: parent}, job_types, unknown_job_delay_ms=3_600_000) as worker:
        await eventually(lambda: _hand_backs(queue, job.id), message="a hand-back")
    assert (worker.metrics.handed_back, worker.metrics.failed, worker.metrics.claimed) == (1, 0, 1)


async def _hand_backs(queue: Any, job_id: str) -> int:
    job = await queue.get_job(job_id)
    return 0 if job is None else int(job.hand_backs)
