"""Repeatable jobs across processes: two schedulers (each with its own broker connection, as two
worker processes have) add exactly one job per slot on Redis, RabbitMQ and Kafka, also after a
restart and after the slot's job was removed; ``backbone worker`` runs the schedules of its queues
and ``backbone schedules list`` shows them."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from pydantic import BaseModel
from tests.harness.handle import BrokerHandle

from application.clock import ManualClock, system_clock
from application.scheduling import Scheduler
from bootstrap.app import Backbone
from bootstrap.cli import main
from bootstrap.scheduling import ScheduleRow, build_scheduler
from domain.queue.context import JobContext
from domain.queue.module import DomainModule, JobSpec, QueueSpec
from domain.queue.schedule import Schedule

JOB = "schedule.tick.v1"
START_MS = 1_800_000_000_000
BROKERS = ["redis_broker", "rabbitmq_broker", "kafka_broker"]


def ticking_module(queue: str, **schedule: Any) -> DomainModule:
    fields = {"every_ms": 1000, "start_ms": START_MS, **schedule}
    return DomainModule(
        "ticks",
        queues=[QueueSpec(queue)],
        jobs=[JobSpec(JOB, None, queue=queue)],
        schedules=[Schedule(name="tick", job=JOB, data={"kind": "tick"}, **fields)],
    )


def scheduler_of(app: Backbone, queue: str, clock: ManualClock | None = None, **options: int) -> Scheduler:
    rows: tuple[ScheduleRow, ...] = app.container.schedules()
    return build_scheduler(rows, [queue], app.container.queues(), clock or ManualClock(START_MS), **options)


@pytest.fixture
def queue_name() -> str:
    return f"sch-{secrets.token_hex(4)}"


@pytest.fixture(params=BROKERS)
def broker_url(request: pytest.FixtureRequest) -> str:
    broker: BrokerHandle = request.getfixturevalue(request.param)
    return broker.url


def open_process(url: str, module: DomainModule, prefix: str) -> Backbone:
    """One 'process': its own container and broker connection, the shared key prefix."""
    return Backbone.open(url, modules=[module], broker={"key_prefix": prefix})


async def test_two_schedulers_add_exactly_one_job_per_slot(broker_url: str, queue_name: str) -> None:
    module = ticking_module(queue_name)
    prefix = f"sch{secrets.token_hex(3)}"
    async with (
        open_process(broker_url, module, prefix) as one,
        open_process(broker_url, module, prefix) as two,
    ):
        first, second = scheduler_of(one, queue_name), scheduler_of(two, queue_name)
        for slot in range(5):
            now = START_MS + slot * 1000 + 300
            await asyncio.wait_for(asyncio.gather(first.tick(now), second.tick(now)), 30)

        stats = await one.queue(queue_name).get_stats()
        stored = [
            await two.queue(queue_name).get_job(f"schedule:tick:{START_MS + i * 1000}") for i in range(5)
        ]

    assert stats.waiting == 5
    assert first.counts.added + second.counts.added == 5
    assert first.counts.deduplicated + second.counts.deduplicated == 5
    assert all(job is not None and job.name == JOB and job.data == {"kind": "tick"} for job in stored)


async def test_a_restarted_scheduler_adds_no_slot_again_even_after_its_job_was_removed(
    broker_url: str, queue_name: str
) -> None:
    module = ticking_module(queue_name)
    prefix = f"sch{secrets.token_hex(3)}"
    slot_key = f"schedule:tick:{START_MS}"
    async with open_process(broker_url, module, prefix) as before:
        await asyncio.wait_for(scheduler_of(before, queue_name).tick(START_MS + 100), 30)
        assert await before.queue(queue_name).remove_job(slot_key)  # as retention would
    async with open_process(broker_url, module, prefix) as after:
        restarted = scheduler_of(after, queue_name)
        await asyncio.wait_for(restarted.tick(START_MS + 600), 30)  # same slot, fresh process
        await asyncio.wait_for(restarted.tick(START_MS + 1100), 30)  # the next slot
        stats = await after.queue(queue_name).get_stats()
        removed = await after.queue(queue_name).get_job(slot_key)

    assert (restarted.counts.added, restarted.counts.deduplicated) == (1, 1)
    assert removed is None
    assert stats.waiting == 1


async def test_two_running_schedulers_on_a_one_second_interval_store_one_job_per_slot(
    redis_broker: BrokerHandle, queue_name: str
) -> None:
    module = ticking_module(queue_name, start_ms=None)
    prefix = f"sch{secrets.token_hex(3)}"
    async with (
        open_process(redis_broker.url, module, prefix) as one,
        open_process(redis_broker.url, module, prefix) as two,
    ):
        schedulers = [
            build_scheduler(app.container.schedules(), [queue_name], app.container.queues(), system_clock)
            for app in (one, two)
        ]
        tasks = [asyncio.create_task(scheduler.run()) for scheduler in schedulers]
        await asyncio.sleep(2.5)
        for scheduler in schedulers:
            scheduler.request_stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 15)
        stats = await one.queue(queue_name).get_stats()

    added = sum(scheduler.counts.added for scheduler in schedulers)
    assert added >= 2
    assert stats.waiting == added
    assert sum(scheduler.counts.deduplicated for scheduler in schedulers) >= added - 1


RAN: list[Any] = []


async def record_tick(data: Any, ctx: JobContext) -> None:
    RAN.append(data)


CLI_MODULE = DomainModule(
    "cli-ticks",
    queues=[QueueSpec("cli-ticks")],
    jobs=[JobSpec(JOB, None, queue="cli-ticks")],
    handlers=lambda ctx: {JOB: record_tick},
    schedules=[
        Schedule(name="every-second", job=JOB, data={"n": 1}, every_ms=1000),
        Schedule(name="nightly", job=JOB, cron="0 2 * * *", timezone="Europe/Berlin"),
    ],
)
CLI_ENTRY = f"{__name__}:CLI_MODULE"


def test_a_worker_runs_the_schedules_of_its_queues_and_stops_with_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    RAN.clear()

    code = main(["--module", CLI_ENTRY, "worker", "--run-for-ms", "2500"])

    assert code == 0
    assert len(RAN) >= 2
    assert all(data == {"n": 1} or data == {} for data in RAN)
    assert "stopped queue=cli-ticks" in capsys.readouterr().out


def test_schedules_list_shows_each_schedule_with_its_next_fire_times(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--module", CLI_ENTRY, "schedules", "list", "--next", "2"])

    out = capsys.readouterr().out
    assert code == 0
    nightly = next(line for line in out.splitlines() if line.startswith("nightly"))
    assert "0 2 * * *" in nightly
    assert "Europe/Berlin" in nightly
    assert nightly.count("T01:00:00Z") + nightly.count("T00:00:00Z") == 2  # 02:00 Berlin, in UTC
    assert "every 1000 ms" in out


def test_a_schedule_with_a_bad_cron_expression_is_refused_at_start_with_exit_code_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--module", f"{__name__}:BAD_CRON_MODULE", "schedules", "list"])

    assert code == 2
    assert "schedules.broken.cron" in capsys.readouterr().err


BAD_CRON_MODULE = DomainModule(
    "bad-cron",
    queues=[QueueSpec("bad-cron")],
    jobs=[JobSpec(JOB, None, queue="bad-cron")],
    schedules=[Schedule(name="broken", job=JOB, cron="0 25 * * *")],
)


async def test_a_scheduler_started_after_missed_slots_adds_only_the_latest_one_within_the_window(
    queue_name: str,
) -> None:
    module = ticking_module(queue_name, every_ms=60_000, catch_up_ms=30_000)
    async with Backbone.open("memory://", modules=[module]) as app:
        late = scheduler_of(app, queue_name)
        await late.tick(START_MS + 5 * 60_000 + 10_000)  # slots 0..5 passed while nothing ran
        stale = scheduler_of(app, queue_name)
        await stale.tick(START_MS + 6 * 60_000 + 40_000)  # slot 6 is 40 s old: past the window
        stats = await app.queue(queue_name).get_stats()
        latest = await app.queue(queue_name).get_job(f"schedule:tick:{START_MS + 5 * 60_000}")

    assert stats.waiting == 1
    assert latest is not None
    assert stale.counts.added == 0


async def test_backbone_workers_run_the_schedules_of_their_queues(queue_name: str) -> None:
    seen: list[Any] = []

    async def tick(data: Any, ctx: JobContext) -> None:
        seen.append(data)

    module = DomainModule(
        "in-process",
        queues=[QueueSpec(queue_name)],
        jobs=[JobSpec(JOB, None, queue=queue_name)],
        handlers=lambda ctx: {JOB: tick},
        schedules=[Schedule(name="tick", job=JOB, data={"n": 2}, every_ms=1000)],
    )
    async with Backbone.open("memory://", modules=[module]) as app, app.workers():
        for _ in range(300):  # at most 3 s: the next whole second is a slot
            if seen:
                break
            await asyncio.sleep(0.01)

    assert seen[:1] == [{"n": 2}]


class Retention(BaseModel):
    retention_days: int


BAD_DATA_MODULE = DomainModule(
    "bad-data",
    queues=[QueueSpec("bad-data")],
    jobs=[JobSpec(JOB, Retention, queue="bad-data")],
    schedules=[Schedule(name="wrong-payload", job=JOB, data={"retention_days": "soon"}, every_ms=1000)],
)


def test_a_schedule_whose_data_is_not_a_valid_payload_is_refused_at_start_with_exit_code_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--module", f"{__name__}:BAD_DATA_MODULE", "schedules", "list"])

    assert code == 2
    assert (
        "schedules.wrong-payload.data: not a valid schedule.tick.v1 payload (retention_days"
        in capsys.readouterr().err
    )
