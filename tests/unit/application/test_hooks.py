"""Hook dispatch: only overriding hooks are called, in order; a failing hook never changes an outcome."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from adapters.memory import MemoryBroker
from application.hooked_queue import HookedQueue, with_hooks
from application.hooks import Adding, Attempt, Hook, Hooks
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.queue_backend import ClaimRequest, LeaseRef
from application.worker import WorkerMetrics
from backbone.testing.contract.helpers import eventually, running_worker, wait_for_state
from domain.queue.errors import InvalidJobError
from domain.queue.job import Job, JobState, NewJob
from domain.queue.metadata import JobMetadata
from domain.queue.options import JobOptions, QueueDefaults

NAME = "unit.hooked.v1"


class Calls(Hook):
    def __init__(self, label: str, log: list[str]) -> None:
        self.label = label
        self.log = log

    def on_completed(self, attempt: Attempt) -> None:
        self.log.append(f"{self.label}:completed")

    def after_add(self, adding: Adding) -> None:
        self.log.append(f"{self.label}:added:{type(adding.error).__name__ if adding.error else 'ok'}")


class Exploding(Hook):
    def before_add(self, adding: Adding) -> None:
        raise RuntimeError("hook bug")

    def after_add(self, adding: Adding) -> None:
        raise RuntimeError("hook bug")

    def on_claimed(self, queue: str, claimed: Any) -> None:
        raise RuntimeError("hook bug")

    def on_started(self, attempt: Attempt) -> None:
        raise RuntimeError("hook bug")

    def on_completed(self, attempt: Attempt) -> None:
        raise RuntimeError("hook bug")


@pytest.fixture
def job_types() -> JobTypes:
    types = JobTypes()
    types.register(NAME)
    return types


@pytest.fixture
def queue(job_types: JobTypes) -> Any:
    return MemoryBroker().queue(JobFactory("unit-hooks", job_types, QueueDefaults(attempts=1)))


def _attempt() -> Attempt:
    job = Job(
        id="j",
        queue="q",
        name=NAME,
        data={},
        options=JobOptions().resolve(QueueDefaults()),
        metadata=JobMetadata(),
        state=JobState.ACTIVE,
        created_at=0,
        attempts_started=1,
    )
    return Attempt(job, LeaseRef("j", "w#1"), "w")


def test_hooks_are_called_in_the_order_given() -> None:
    log: list[str] = []
    Hooks([Calls("a", log), Calls("b", log)]).on_completed(_attempt())
    assert log == ["a:completed", "b:completed"]


def test_only_hooks_that_override_an_event_are_kept_for_it() -> None:
    hooks = Hooks([Hook(), Calls("a", [])])
    assert [call.__self__ for call in hooks._on_completed] == [hooks.hooks[1]]  # type: ignore[attr-defined]
    assert hooks._on_started == ()


def test_a_failing_hook_is_logged_and_the_next_hook_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    with caplog.at_level(logging.ERROR, logger="application.hooks"):
        Hooks([Exploding(), Calls("after", log)]).on_completed(_attempt())
    assert log == ["after:completed"]
    assert "hook Exploding failed in on_completed" in caplog.text


def test_something_that_is_not_a_hook_is_refused() -> None:
    with pytest.raises(TypeError, match="a hook must be a Hook"):
        Hooks([object()])  # type: ignore[list-item]


def test_attempt_state_is_made_on_first_use_and_kept_per_attempt() -> None:
    first, second = _attempt(), _attempt()
    first.state["span"] = 1
    assert (first.state, second.state) == ({"span": 1}, {})


async def test_a_queue_without_producer_hooks_is_not_wrapped(queue: Any) -> None:
    assert with_hooks(queue, Hooks([WorkerMetrics()])) is queue
    assert isinstance(with_hooks(queue, Hooks([Calls("a", [])])), HookedQueue)


async def test_after_add_sees_refused_input_and_the_error_still_reaches_the_caller(queue: Any) -> None:
    log: list[str] = []
    producer = with_hooks(queue, Hooks([Calls("a", log)]))
    with pytest.raises(InvalidJobError):
        await producer.add("not a valid name!", {})
    await producer.add_bulk([NewJob(NAME, {})])
    assert log == ["a:added:InvalidJobNameError", "a:added:ok"]


async def test_hooks_that_raise_everywhere_change_nothing_for_the_job(
    queue: Any, job_types: JobTypes
) -> None:
    producer = with_hooks(queue, Hooks([Exploding()]))
    job = await producer.add(NAME, {"x": 1})

    async def handle(payload: Any, ctx: Any) -> str:
        return "done"

    async with running_worker(queue, {NAME: handle}, job_types, hooks=(Exploding(),)) as worker:
        done = await wait_for_state(queue, job.id, JobState.COMPLETED)
    assert done.return_value == "done"
    assert (worker.metrics.claimed, worker.metrics.succeeded) == (1, 1)


async def test_a_lost_lease_is_reported_once_though_renewal_and_completion_both_find_it(
    queue: Any, job_types: JobTypes
) -> None:
    events: list[str] = []

    class Outcomes(Hook):
        def on_completed(self, attempt: Attempt) -> None:
            events.append("completed")

        def on_lease_lost(self, attempt: Attempt) -> None:
            events.append("lease_lost")

    async def stolen(payload: Any, ctx: Any) -> None:
        time.sleep(0.3)  # noqa: ASYNC251 - blocks the loop past the 200 ms lease: nothing renews it
        [thief] = await queue.claim(ClaimRequest("thief", 1, 60_000, block_ms=100))
        assert thief.job.id == ctx.job.id
        await asyncio.sleep(0.4)  # renewal runs meanwhile and finds the lease gone

    job = await queue.add(NAME, {}, JobOptions(attempts=3))
    async with running_worker(
        queue, {NAME: stolen}, job_types, hooks=(Outcomes(),), lease_ms=200, lease_renew_ms=100
    ) as worker:
        await eventually(lambda: _settled(events), message="the lease-lost hook")
        await asyncio.sleep(0.2)
    assert events == ["lease_lost"]
    assert worker.metrics.stale == 1
    assert (await queue.get_job(job.id)).state is JobState.ACTIVE  # the thief holds it


async def _settled(events: list[str]) -> bool:
    return bool(events)
