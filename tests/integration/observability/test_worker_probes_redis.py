"""The probes of a real ``backbone worker`` process on Redis: a handler blocking the event loop fails
/healthz until the loop runs again; a broker that does not answer fails /readyz until it does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backbone import Backbone
from tests.harness.handle import BrokerHandle
from tests.harness.ports import LOOPBACK, free_port
from tests.harness.tcp_proxy import TcpProxy
from tests.integration.observability.metered_module import JOB, MODULE, QUEUE, Metered

REPO = Path(__file__).resolve().parents[3]
MODULE_PATH = "tests.integration.observability.metered_module:MODULE"
LIVENESS_MS = 500
WAIT_S = 15.0
HTTP_TIMEOUT_S = 5.0


def get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}{path}", timeout=HTTP_TIMEOUT_S) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for_status(port: int, path: str, status: int) -> tuple[int, dict[str, Any]]:
    """GET ``path`` until it answers ``status`` (or ``WAIT_S`` passes); the last answer."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            answer = get(port, path)
        except OSError:  # not listening yet
            answer = (-1, {})
        if answer[0] == status or time.monotonic() >= deadline:
            return answer
        time.sleep(0.1)


@pytest.fixture
def key_prefix() -> str:
    return f"probes-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def proxy(redis_broker: BrokerHandle, tcp_proxy: Callable[[str, int], TcpProxy]) -> TcpProxy:
    return tcp_proxy(redis_broker.host, redis_broker.port)


@pytest.fixture
def worker_port(proxy: TcpProxy, redis_broker: BrokerHandle, key_prefix: str) -> Iterator[int]:
    """A ``backbone worker`` on Redis through the proxy, serving its probes on the returned port."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("BACKBONE_")}
    env.update(
        BACKBONE_BROKER__KEY_PREFIX=key_prefix,
        BACKBONE_BROKER__OPERATION_TIMEOUT_MS="500",
        BACKBONE_BROKER__CONNECT_TIMEOUT_MS="500",
        BACKBONE_WORKER__METRICS_HOST=LOOPBACK,
        BACKBONE_WORKER__LIVENESS_TIMEOUT_MS=str(LIVENESS_MS),
        BACKBONE_WORKER__READINESS_TIMEOUT_MS="500",
        BACKBONE_WORKER__BLOCK_MS="200",
    )
    argv = [sys.executable, "-m", "bootstrap", "worker", QUEUE, "--module", MODULE_PATH]
    process = subprocess.Popen(
        [*argv, "--broker", proxy.proxied_url(redis_broker.url), "--metrics-port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_status(port, "/healthz", 200)[0] == 200, f"worker exit code {process.poll()}"
        yield port
    finally:
        process.kill()  # a handler may still block: no graceful stop needed here
        process.wait(timeout=15)


async def test_a_handler_blocking_the_event_loop_fails_healthz_until_the_loop_runs_again(
    worker_port: int, redis_broker: BrokerHandle, key_prefix: str
) -> None:
    async with Backbone.open(redis_broker.url, modules=[MODULE], broker={"key_prefix": key_prefix}) as app:
        await app.queue(QUEUE).add(JOB, Metered(ok=True, block_s=4 * LIVENESS_MS / 1000))
    status, body = wait_for_status(worker_port, "/healthz", 503)
    assert (status, body["status"]) == (503, "event loop blocked")
    assert wait_for_status(worker_port, "/healthz", 200)[0] == 200


def test_readyz_fails_while_the_broker_does_not_answer_and_passes_again_after(
    worker_port: int, proxy: TcpProxy
) -> None:
    assert wait_for_status(worker_port, "/readyz", 200)[0] == 200
    proxy.cut()
    status, body = wait_for_status(worker_port, "/readyz", 503)
    assert status == 503
    assert [(q["queue"], q["status"]) for q in body["queues"]] == [(QUEUE, "down")]
    proxy.restore()
    assert wait_for_status(worker_port, "/readyz", 200)[0] == 200
