"""``backbone worker --metrics-port N``: /metrics, /healthz and /readyz on one port (docs/operations.md).

The endpoint of a real ``backbone worker`` process, then the failures in-process: a blocked event
loop fails /healthz (and /readyz), a failure rate above its threshold fails /readyz.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import BaseModel
from tests.harness.ports import free_port

from backbone import Backbone, DomainModule, JobContext, JobSpec, PermanentError, QueueSpec
from bootstrap.cli import main
from bootstrap.probes import WorkerProbes
from bootstrap.settings import WorkerSettings

START_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 5.0
LIVENESS_MS = 400


def get(port: int, path: str) -> tuple[int, str]:
    """Status and body of ``GET http://127.0.0.1:port/path`` (503 is an answer, not an error)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=HTTP_TIMEOUT_S) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for_endpoint(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the worker exited with {process.returncode} before serving")
        try:
            get(port, "/healthz")
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("the worker did not serve /healthz in time")


@pytest.fixture(scope="module")
def worker_port() -> Iterator[int]:
    """A ``backbone worker slack-alerts --metrics-port P`` process on memory://."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("BACKBONE_")}
    env["BACKBONE_WORKER__METRICS_HOST"] = "127.0.0.1"
    process = subprocess.Popen(
        [sys.executable, "-m", "bootstrap", "worker", "slack-alerts", "--metrics-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_for_endpoint(port, process)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def test_metrics_shows_the_worker_up_with_its_info_and_queue_gauges(worker_port: int) -> None:
    status, body = get(worker_port, "/metrics")
    assert status == 200
    assert "backbone_worker_up 1.0" in body
    assert 'backbone_worker_info{concurrency="10",queue="slack-alerts"' in body
    assert 'backbone_queue_jobs{queue="slack-alerts",state="waiting"} 0.0' in body
    assert 'backbone_worker_active_jobs{queue="slack-alerts"} 0.0' in body


def test_healthz_answers_200_while_the_event_loop_runs(worker_port: int) -> None:
    status, body = get(worker_port, "/healthz")
    assert (status, json.loads(body)["status"]) == (200, "ok")


def test_readyz_answers_200_when_every_queue_answers(worker_port: int) -> None:
    status, body = get(worker_port, "/readyz")
    report = json.loads(body)
    assert status == 200
    assert [(q["queue"], q["status"], q["ready"]) for q in report["queues"]] == [("slack-alerts", "up", True)]


def test_an_unknown_path_is_404(worker_port: int) -> None:
    assert get(worker_port, "/nothing")[0] == 404


def test_a_metrics_port_already_taken_is_a_one_line_settings_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKBONE_WORKER__METRICS_HOST", "127.0.0.1")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["worker", "slack-alerts", "--metrics-port", str(port), "--run-for-ms", "100"])
    assert code == 2
    assert f"worker.metrics_port: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_a_metrics_port_out_of_range_is_refused_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "slack-alerts", "--metrics-port", "70000", "--run-for-ms", "100"]) == 2
    assert "--metrics-port: must be in 1..65535" in capsys.readouterr().err


# --- in-process: the failures ------------------------------------------------------------------------


class Ping(BaseModel):
    ok: bool


async def ping(job: Ping, ctx: JobContext) -> None:
    if not job.ok:
        raise PermanentError("refused")


PINGS = DomainModule(
    "pings",
    queues=[QueueSpec("pings")],
    jobs=[JobSpec("ping.send.v1", Ping, queue="pings")],
    handlers=lambda ctx: {"ping.send.v1": ping},
)


@pytest.fixture
async def app() -> AsyncIterator[Backbone]:
    async with Backbone.open("memory://", modules=[PINGS]) as opened:
        yield opened


async def _serve(app: Backbone, **settings: Any) -> tuple[WorkerProbes, int]:
    port = free_port()
    worker_settings = WorkerSettings(metrics_host="127.0.0.1", liveness_timeout_ms=LIVENESS_MS, **settings)
    probes = WorkerProbes.from_settings(worker_settings, port, app.container.queues())
    assert probes is not None
    return probes, port


def _get_later(port: int, path: str, delay_s: float, into: list[tuple[int, str]]) -> threading.Thread:
    def run() -> None:
        time.sleep(delay_s)
        into.append(get(port, path))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


async def test_a_blocked_event_loop_fails_healthz_within_the_liveness_timeout(app: Backbone) -> None:
    probes, port = await _serve(app)
    worker = await app.worker("pings")
    answers: list[tuple[int, str]] = []
    async with probes.serving([worker]):
        assert (await asyncio.to_thread(get, port, "/healthz"))[0] == 200
        thread = _get_later(port, "/healthz", 2 * LIVENESS_MS / 1000, answers)
        time.sleep(3 * LIVENESS_MS / 1000)  # noqa: ASYNC251 - blocks the event loop on purpose
        thread.join(HTTP_TIMEOUT_S)
        [(status, body)] = answers
        assert (status, json.loads(body)["status"]) == (503, "event loop blocked")
        await asyncio.sleep(0.05)  # the heartbeat runs again
        assert (await asyncio.to_thread(get, port, "/healthz"))[0] == 200


async def test_a_blocked_event_loop_fails_readyz(app: Backbone) -> None:
    probes, port = await _serve(app, readiness_timeout_ms=100)
    worker = await app.worker("pings")
    answers: list[tuple[int, str]] = []
    async with probes.serving([worker]):
        thread = _get_later(port, "/readyz", 0.1, answers)
        time.sleep(1.6)  # noqa: ASYNC251 - blocks the loop beyond the readiness wait (timeout + 1 s)
        thread.join(HTTP_TIMEOUT_S)
        [(status, body)] = answers
        assert status == 503
        assert "did not answer" in json.loads(body)["status"]


async def _one_dead_letter_one_completed(app: Backbone) -> None:
    queue = app.queue("pings")
    await queue.add("ping.send.v1", Ping(ok=True))
    await queue.add("ping.send.v1", Ping(ok=False))
    async with app.workers("pings"):
        await app.wait_until_idle(timeout_s=10)


async def test_readyz_fails_when_a_queues_failure_rate_is_above_its_threshold(app: Backbone) -> None:
    await _one_dead_letter_one_completed(app)  # failure rate 0.5
    probes, port = await _serve(app, readiness_max_failure_rates={"pings": 0.25})
    async with probes.serving([await app.worker("pings")]):
        status, body = await asyncio.to_thread(get, port, "/readyz")
    [entry] = json.loads(body)["queues"]
    assert status == 503
    assert (entry["failure_rate"], entry["max_failure_rate"], entry["ready"]) == (0.5, 0.25, False)


async def test_readyz_passes_when_the_failure_rate_is_within_the_default_threshold(app: Backbone) -> None:
    await _one_dead_letter_one_completed(app)
    probes, port = await _serve(app, readiness_max_failure_rate=0.5)
    async with probes.serving([await app.worker("pings")]):
        status, _ = await asyncio.to_thread(get, port, "/readyz")
    assert status == 200


def test_prometheus_client_is_imported_only_when_the_endpoint_is_enabled() -> None:
    code = (
        "import sys; from bootstrap.cli import main; "
        "main(['worker', 'slack-alerts', '--run-for-ms', '50']); "
        "print('prometheus_client' in sys.modules)"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("BACKBONE_")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=env, timeout=START_TIMEOUT_S, check=True
    )
    assert done.stdout.decode().splitlines()[-1] == "False"
