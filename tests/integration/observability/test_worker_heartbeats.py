"""Workers are visible (ADR 0025): a worker's heartbeat lists it with its queues and active jobs on
its broker; a killed worker drops out within three heartbeat intervals, one that stops cleanly at once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from dependency_injector import providers

from application.clock import ManualClock, system_clock
from application.presence.heartbeat import ActiveJobsHook, WorkerPresence
from application.presence.registry import HEARTBEAT_MISSES, WorkerHeartbeat, WorkerRegistry
from backbone import Backbone, JobOptions
from bootstrap.cli import main
from bootstrap.worker_registries import worker_registry
from tests.harness.handle import BrokerHandle
from tests.integration.observability.traced_module import JOB, MODULE, QUEUE, Flaky

REPO = Path(__file__).resolve().parents[3]
INTERVAL_MS = 500
TTL_MS = HEARTBEAT_MISSES * INTERVAL_MS
WAIT_S = 30.0
STOP_TIMEOUT_S = 30.0
MARGIN_MS = 250  # time for the last listing itself, past the bound


@pytest.fixture
def key_prefix() -> str:
    return f"beat-{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["redis_broker", "rabbitmq_broker", "kafka_broker"])
def broker(request: pytest.FixtureRequest) -> BrokerHandle:
    handle: BrokerHandle = request.getfixturevalue(request.param)
    return handle


def worker_env(key_prefix: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BACKBONE_")}
    env.update(
        BACKBONE_BROKER__KEY_PREFIX=key_prefix,
        BACKBONE_WORKER__BLOCK_MS="100",
        BACKBONE_WORKER__HEARTBEAT_INTERVAL_MS=str(INTERVAL_MS),
    )
    return env


@pytest.fixture
def start_worker(key_prefix: str) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(broker_url: str) -> subprocess.Popen[bytes]:
        module = "tests.integration.observability.traced_module:MODULE"
        argv = [
            sys.executable,
            "-m",
            "bootstrap",
            "worker",
            QUEUE,
            "--module",
            module,
            "--broker",
            broker_url,
        ]
        process = subprocess.Popen(
            argv, cwd=REPO, env=worker_env(key_prefix), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


@asynccontextmanager
async def registry_on(broker_url: str, key_prefix: str) -> AsyncIterator[tuple[Backbone, WorkerRegistry]]:
    async with Backbone.open(broker_url, modules=[MODULE], broker={"key_prefix": key_prefix}) as app:
        registry = worker_registry(app.container.queues().broker)
        try:
            yield app, registry
        finally:
            await registry.close()


async def wait_until_listed(registry: WorkerRegistry, pid: int, active_job: str) -> WorkerHeartbeat:
    deadline = time.monotonic() + WAIT_S
    while True:
        for beat in await registry.live():
            if beat.pid == pid and active_job in [job.job_id for job in beat.active_jobs]:
                return beat
        assert time.monotonic() < deadline, f"worker {pid} not listed with job {active_job} in {WAIT_S} s"
        await asyncio.sleep(0.1)


async def test_a_worker_process_is_listed_with_its_active_job_and_drops_out_within_three_intervals_of_a_sigkill(
    broker: BrokerHandle, key_prefix: str, start_worker: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    async with registry_on(broker.url, key_prefix) as (app, registry):
        job = await app.queue(QUEUE).add(JOB, Flaky(hold_s=120), JobOptions(timeout=300_000))
        worker = start_worker(broker.url)
        beat = await wait_until_listed(registry, worker.pid, job.id)
        assert (beat.queues[0].name, beat.concurrency, beat.active_count, beat.ttl_ms) == (
            QUEUE,
            4,
            1,
            TTL_MS,
        )
        assert [(j.queue, j.name, j.attempt) for j in beat.active_jobs] == [(QUEUE, JOB, 1)]

        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=STOP_TIMEOUT_S)
        killed_at = system_clock()
        await asyncio.sleep((TTL_MS + MARGIN_MS) / 1000)
        live = await registry.live()
    assert beat.worker_id not in [entry.worker_id for entry in live]
    assert beat.expires_at <= killed_at + TTL_MS


async def test_a_worker_process_that_stops_cleanly_is_no_longer_listed(
    redis_broker: BrokerHandle, key_prefix: str, start_worker: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    async with registry_on(redis_broker.url, key_prefix) as (app, registry):
        job = await app.queue(QUEUE).add(JOB, Flaky(hold_s=2.0))
        worker = start_worker(redis_broker.url)
        await wait_until_listed(registry, worker.pid, job.id)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=STOP_TIMEOUT_S) == 0
        assert await registry.live() == []


def test_backbone_workers_lists_a_live_worker_as_a_table_and_as_json(
    redis_broker: BrokerHandle,
    key_prefix: str,
    start_worker: Callable[[str], subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in worker_env(key_prefix).items():
        if key.startswith("BACKBONE_"):
            monkeypatch.setenv(key, value)
    worker = start_worker(redis_broker.url)
    deadline = time.monotonic() + WAIT_S
    listed: list[dict[str, object]] = []
    while not listed and time.monotonic() < deadline:
        assert main(["workers", "--json", "--broker", redis_broker.url, "--log-level", "ERROR"]) == 0
        listed = json.loads(capsys.readouterr().out)
        time.sleep(0.1)
    assert [(entry["pid"], entry["concurrency"], entry["active_count"]) for entry in listed] == [
        (worker.pid, 4, 0)
    ]
    assert main(["workers", "--broker", redis_broker.url, "--log-level", "ERROR"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:6] == ["worker", "host", "pid", "queues", "concurrency", "active"]
    assert lines[2].split()[0] == listed[0]["worker_id"]
    assert str(worker.pid) in lines[2].split()


# --- memory:// (heartbeats live with the broker object, in this process) ---------------------------


@asynccontextmanager
async def memory_app(
    clock: ManualClock, hook: ActiveJobsHook
) -> AsyncIterator[tuple[Backbone, WorkerRegistry]]:
    app = Backbone.open("memory://", modules=[MODULE], hooks=[hook], worker={"block_ms": 50})
    app.container.clock.override(providers.Object(clock))
    async with app:
        registry = worker_registry(app.container.queues().broker)
        yield app, registry


async def test_a_worker_on_memory_is_listed_with_its_active_job_while_it_runs_and_not_after_it_stops() -> (
    None
):
    clock = ManualClock(system_clock())
    hook = ActiveJobsHook(clock)
    async with memory_app(clock, hook) as (app, registry):
        presence = WorkerPresence(registry, "test", INTERVAL_MS, clock=clock, hook=hook)
        job = await app.queue(QUEUE).add(JOB, Flaky(hold_s=0.5))
        async with app.workers(QUEUE) as workers, presence.publishing(workers):
            deadline = time.monotonic() + WAIT_S
            while True:  # the handler has started
                if hook.snapshot() or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.01)
            await presence.beat()
            [beat] = await registry.live()
        after = await registry.live()
    assert (beat.worker_id, beat.version, beat.pid, beat.active_count) == (
        presence.worker_id,
        "test",
        os.getpid(),
        1,
    )
    assert [(q.name, q.worker_id, q.concurrency) for q in beat.queues] == [
        (QUEUE, workers[0].options.worker_id, 4)
    ]
    assert [j.job_id for j in beat.active_jobs] == [job.id]
    assert after == []


async def test_a_worker_on_memory_whose_heartbeats_stop_is_listed_until_three_intervals_after_its_last() -> (
    None
):
    clock = ManualClock(system_clock())
    hook = ActiveJobsHook(clock)
    async with memory_app(clock, hook) as (_app, registry):
        presence = WorkerPresence(registry, "test", INTERVAL_MS, clock=clock, hook=hook)
        await presence.beat()  # its last heartbeat: the process is gone after it
        clock.advance(TTL_MS - 1)
        still = [beat.worker_id for beat in await registry.live()]
        clock.advance(1)
        gone = [beat.worker_id for beat in await registry.live()]
    assert (still, gone) == ([presence.worker_id], [])
