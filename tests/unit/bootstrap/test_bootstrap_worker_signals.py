"""``backbone worker`` as its own process: SIGTERM stops every worker gracefully and exits 0."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time

import pytest

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def _read_until_started(process: subprocess.Popen[bytes], workers: int, timeout_s: float) -> str:
    """Stdout until ``workers`` lines starting with ``worker`` arrived (polled with a deadline)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    received = b""
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while received.count(b"worker ") < workers:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or process.poll() is not None:
                pytest.fail(f"worker did not start in time; output so far: {received!r}")
            if selector.select(remaining):
                received += os.read(fd, 4096)
    return received.decode()


def test_sigterm_stops_every_worker_gracefully_with_exit_code_0() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BACKBONE_")}
    env["BACKBONE_WORKER__BLOCK_MS"] = "100"
    process = subprocess.Popen(
        [sys.executable, "-m", "bootstrap", "worker", "notification-email", "slack-alerts"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        started = _read_until_started(process, 2, START_TIMEOUT_S)
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=STOP_TIMEOUT_S)
        out = started + rest.decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
    assert process.returncode == 0
    assert "stopped queue=notification-email" in out
    assert "stopped queue=slack-alerts" in out
