"""Contract behaviours 30 and 31: run-time schedules stored on the broker, and job-type policies (ADR 0022).

30. A schedule added through the port is stored on the broker: another client lists it, and two
    schedulers (as two worker processes run) add exactly one job per slot from it; once removed, no
    slot is added; a bad schedule is refused naming the field and nothing is stored; the admin hook
    sees every change.
31. A job type's attempts, backoff and timeout override the queue's defaults and a job's own options
    override them: the stored job shows the resolved options, and the worker honours them.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from application.clock import system_clock
from application.hooked_queue import with_hooks
from application.hooks import Hook, Hooks, ScheduleChange
from application.jobs.job_types import JobType, JobTypes
from application.scheduling import Scheduler
from backbone.testing.contract.helpers import (
    ECHO,
    MODEL,
    contract_job_types,
    fast_defaults,
    now_ms,
    running_worker,
    wait_for_state,
)
from backbone.testing.contract.support import BrokerUnderTest
from domain.queue.errors import InvalidJobError, InvalidOptionError
from domain.queue.job import JobState
from domain.queue.options import Backoff, BackoffType, JobOptions
from domain.queue.schedule import Schedule

POLICY = "contract.policy.v1"
TYPE_BACKOFF = Backoff(type=BackoffType.FIXED, delay=40, max_delay=None, jitter=0.0)


def _schedule(**changes: Any) -> Schedule:
    values: dict[str, Any] = {
        "name": f"ct-{uuid.uuid4().hex[:8]}",
        "job": ECHO,
        "data": {"from": "schedule"},
        "every_ms": 1000,
    }
    values.update(changes)
    return Schedule(**values)


def _slot() -> int:
    """A whole second a little in the past: a slot of every 1 s schedule, due now."""
    return (now_ms() // 1000 - 1) * 1000


def _schedulers(*queues: Any) -> list[Scheduler]:
    """One scheduler per client, as every worker process runs one (no declared schedules)."""
    return [Scheduler([], system_clock, sources=[queue]) for queue in queues]


class ChangeRecorder(Hook):
    def __init__(self) -> None:
        self.changes: list[ScheduleChange] = []

    def on_schedule_changed(self, change: ScheduleChange) -> None:
        self.changes.append(change)


class ScheduleBehaviours:
    # 30. run-time schedules ----------------------------------------------------------------------

    async def test_a_schedule_added_at_run_time_is_stored_on_the_broker_for_every_client(
        self, queue: Any, other_client: Any
    ) -> None:
        first = _schedule(name="ct-nightly", cron="0 2 * * *", every_ms=None, timezone="Europe/Berlin")
        assert await queue.upsert_schedule(first) == first
        second = _schedule(name="ct-often", every_ms=5000, data={"n": 2})
        await other_client.upsert_schedule(second)
        assert await other_client.list_schedules() == [first, second]
        changed = _schedule(name="ct-nightly", cron="30 3 * * *", every_ms=None)
        await other_client.upsert_schedule(changed)
        assert await queue.list_schedules() == [changed, second]

    async def test_a_schedule_added_at_run_time_is_added_once_per_slot_by_two_schedulers(
        self, queue: Any, other_client: Any
    ) -> None:
        schedule = await queue.upsert_schedule(_schedule())
        schedulers = _schedulers(queue, other_client)
        slot = _slot()
        for now in (slot, slot + 400, slot + 1000):
            for scheduler in schedulers:
                await scheduler.tick(now)
        ids = [schedule.slot_key(slot), schedule.slot_key(slot + 1000)]
        jobs = [await queue.get_job(job_id) for job_id in ids]
        assert [(job.name, job.data) for job in jobs if job is not None] == [(ECHO, {"from": "schedule"})] * 2
        assert (await queue.get_stats()).total == 2
        assert sum(s.counts.added for s in schedulers) == 2
        assert sum(s.counts.deduplicated for s in schedulers) == 2

    async def test_a_stored_schedule_outlives_the_client_that_stored_it(
        self, broker: BrokerUnderTest, queue_name: str, job_types: JobTypes
    ) -> None:
        first = await broker.open_queue(queue_name, job_types, fast_defaults())
        try:
            schedule = await first.upsert_schedule(_schedule())
        finally:
            await first.close()
        later = await broker.open_queue(queue_name, job_types, fast_defaults())  # as a restarted process
        try:
            assert await later.list_schedules() == [schedule]
            slot = _slot()
            await _schedulers(later)[0].tick(slot)
            assert await later.get_job(schedule.slot_key(slot)) is not None
        finally:
            await later.close()

    async def test_a_removed_schedule_adds_no_more_jobs(self, queue: Any, other_client: Any) -> None:
        schedule = await queue.upsert_schedule(_schedule())
        schedulers = _schedulers(queue, other_client)
        slot = _slot()
        for scheduler in schedulers:
            await scheduler.tick(slot)
        assert await other_client.remove_schedule(schedule.name) is True
        for scheduler in schedulers:
            await scheduler.refresh()
            await scheduler.tick(slot + 1000)
        assert await queue.get_job(schedule.slot_key(slot)) is not None
        assert await queue.get_job(schedule.slot_key(slot + 1000)) is None
        assert (await queue.get_stats()).total == 1
        assert await queue.list_schedules() == []
        assert await queue.remove_schedule(schedule.name) is False

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"cron": "61 * * * *", "every_ms": None}, "schedules.ct-bad.cron"),
            ({"job": "contract.unknown.v1"}, "schedules.ct-bad.job"),
            ({"job": MODEL, "data": {"payment_id": 7}}, "schedules.ct-bad.data"),
        ],
        ids=["cron", "job", "data"],
    )
    async def test_a_bad_schedule_is_refused_naming_the_field_and_nothing_is_stored(
        self, queue: Any, changes: dict[str, Any], field: str
    ) -> None:
        good = await queue.upsert_schedule(_schedule(name="ct-bad"))
        with pytest.raises(InvalidJobError) as refused:
            await queue.upsert_schedule(_schedule(name="ct-bad", **changes))
        assert refused.value.field.startswith(field)
        assert await queue.list_schedules() == [good]

    async def test_a_bad_interval_is_refused_naming_the_field_before_any_queue_sees_it(self, queue: Any) -> None:
        with pytest.raises(InvalidOptionError) as refused:
            _schedule(name="ct-fast", every_ms=10)
        assert refused.value.field == "schedules.ct-fast.every_ms"
        with pytest.raises(InvalidOptionError) as not_one:
            await queue.upsert_schedule({"name": "ct-fast", "job": ECHO, "every_ms": 10})
        assert not_one.value.field == "schedule"
        assert await queue.list_schedules() == []

    async def test_the_admin_hook_sees_every_schedule_change(self, queue: Any) -> None:
        recorder = ChangeRecorder()
        admin = with_hooks(queue, Hooks([recorder]))
        schedule = await admin.upsert_schedule(_schedule(name="ct-audited"))
        with pytest.raises(InvalidOptionError):
            await admin.upsert_schedule(_schedule(name="ct-audited", cron="nope", every_ms=None))
        assert await admin.remove_schedule("ct-audited") is True
        seen = [(c.queue, c.action, c.name, c.schedule, c.removed, type(c.error)) for c in recorder.changes]
        assert seen == [
            (queue.name, "upsert", "ct-audited", schedule, False, type(None)),
            (queue.name, "upsert", "ct-audited", None, False, InvalidOptionError),
            (queue.name, "remove", "ct-audited", None, True, type(None)),
        ]

    # 31. job-type policies -------------------------------------------------------------------------

    @pytest.fixture
    def policy_types(self) -> JobTypes:
        job_types = contract_job_types()
        job_types.add(JobType(POLICY, None, attempts=2, backoff=TYPE_BACKOFF, timeout=4000))
        return job_types

    async def test_a_job_types_policy_overrides_the_queue_defaults_and_a_jobs_options_override_it(
        self, broker: BrokerUnderTest, queue_name: str, policy_types: JobTypes
    ) -> None:
        queue = await broker.open_queue(queue_name, policy_types, fast_defaults(attempts=3, timeout=30_000))
        try:
            typed = await queue.add(POLICY, {})
            own = await queue.add(POLICY, {}, JobOptions(attempts=9, timeout=1500))
            plain = await queue.add(ECHO, {})
            stored = [await queue.get_job(job.id) for job in (typed, own, plain)]
        finally:
            await queue.close()
        resolved = [(j.options.attempts, j.options.backoff, j.options.timeout) for j in stored if j is not None]
        assert resolved == [
            (2, TYPE_BACKOFF, 4000),  # the job type's policy over the queue's defaults
            (9, TYPE_BACKOFF, 1500),  # the job's own options over the job type's
            (3, fast_defaults().backoff, 30_000),  # no policy: the queue's defaults
        ]

    async def test_the_worker_honours_a_job_types_attempts(
        self, broker: BrokerUnderTest, queue_name: str, policy_types: JobTypes
    ) -> None:
        attempts: list[int] = []

        async def boom(payload: Any, ctx: Any) -> None:
            attempts.append(ctx.attempt)
            raise RuntimeError(f"attempt {ctx.attempt} broke")

        queue = await broker.open_queue(queue_name, policy_types, fast_defaults(attempts=5))
        try:
            job = await queue.add(POLICY, {})
            async with running_worker(queue, {POLICY: boom}, policy_types):
                failed = await wait_for_state(queue, job.id, JobState.FAILED)
        finally:
            await queue.close()
        assert attempts == [1, 2]
        assert failed.attempts_made == 2
