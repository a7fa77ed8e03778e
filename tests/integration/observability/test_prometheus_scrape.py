"""A real Prometheus server scrapes a ``backbone worker --metrics-port`` process on each shared
broker; the figures it stored (read through its query API) are what the worker did."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backbone import Backbone
from tests.harness.handle import BrokerHandle
from tests.harness.ports import LOOPBACK, free_port
from tests.harness.prometheus_server import PrometheusServer
from tests.integration.observability.metered_module import JOB, QUEUE, Metered

REPO = Path(__file__).resolve().parents[3]
MODULE = "tests.integration.observability.metered_module:MODULE"
COMPLETED, REFUSED = 6, 2
SCRAPED_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


@pytest.fixture(params=["redis_broker", "rabbitmq_broker", "kafka_broker"])
def broker(request: pytest.FixtureRequest) -> BrokerHandle:
    handle: BrokerHandle = request.getfixturevalue(request.param)
    return handle


@pytest.fixture
def key_prefix() -> str:
    """Each test its own queues on the session's broker."""
    return f"prom-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def metrics_port() -> int:
    return free_port()


@pytest.fixture
def prometheus(tmp_path: Path, metrics_port: int) -> Iterator[PrometheusServer]:
    server = PrometheusServer([f"{LOOPBACK}:{metrics_port}"], tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def start_worker(broker_url: str, key_prefix: str, metrics_port: int) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BACKBONE_")}
    env.update(
        BACKBONE_BROKER__KEY_PREFIX=key_prefix,
        BACKBONE_WORKER__METRICS_HOST=LOOPBACK,
        BACKBONE_WORKER__METRICS_STATS_INTERVAL_MS="200",
        BACKBONE_WORKER__BLOCK_MS="200",
    )
    argv = [sys.executable, "-m", "bootstrap", "worker", QUEUE, "--module", MODULE, "--broker", broker_url]
    return subprocess.Popen(
        [*argv, "--metrics-port", str(metrics_port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def add_jobs(broker_url: str, key_prefix: str) -> None:
    from tests.integration.observability.metered_module import MODULE as METERED

    async with Backbone.open(broker_url, modules=[METERED], broker={"key_prefix": key_prefix}) as app:
        queue = app.queue(QUEUE)
        for ok in [True] * COMPLETED + [False] * REFUSED:
            await queue.add(JOB, Metered(ok=ok))


def series(metric: str, **labels: str) -> str:
    selector = ",".join(f'{key}="{value}"' for key, value in {"queue": QUEUE, **labels}.items())
    return f"sum({metric}{{{selector}}})"


@pytest.mark.broker  # the broker fixture is chosen by parameter, so the marker is not set by name
async def test_prometheus_stores_the_counts_times_and_gauges_of_a_worker_processing_jobs(
    broker: BrokerHandle, key_prefix: str, metrics_port: int, prometheus: PrometheusServer
) -> None:
    await add_jobs(broker.url, key_prefix)
    worker = start_worker(broker.url, key_prefix, metrics_port)
    try:
        completed = prometheus.wait_for(
            series("backbone_jobs_completed_total", job_name=JOB), COMPLETED, SCRAPED_TIMEOUT_S
        )
        assert completed == COMPLETED, f"worker exit code {worker.poll()}"
        figures = {
            "refused": prometheus.wait_for(
                series("backbone_jobs_failed_total", job_name=JOB, category="permanent"), REFUSED, 5
            ),
            "dead_lettered": prometheus.wait_for(
                series("backbone_jobs_dead_lettered_total", job_name=JOB), REFUSED, 5
            ),
            "timed": prometheus.wait_for(
                series("backbone_job_processing_seconds_count", job_name=JOB), COMPLETED + REFUSED, 5
            ),
            "waited": prometheus.wait_for(
                series("backbone_job_wait_seconds_count", job_name=JOB), COMPLETED + REFUSED, 5
            ),
            "waiting": prometheus.wait_for(series("backbone_queue_jobs", state="waiting"), 0, 5),
            "dead_letters": prometheus.wait_for(series("backbone_queue_jobs", state="failed"), REFUSED, 5),
            "up": prometheus.wait_for("backbone_worker_up", 1, 5),
        }
        assert figures == {
            "refused": REFUSED,
            "dead_lettered": REFUSED,
            "timed": COMPLETED + REFUSED,
            "waited": COMPLETED + REFUSED,
            "waiting": 0,
            "dead_letters": REFUSED,
            "up": 1,
        }
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=STOP_TIMEOUT_S)
