"""Harness processes: failures explain themselves with the log tail, and stopping leaves no strays."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.harness.process import BrokerStartError, ServerProcess, wait_until


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    # a zombie (already exited, not yet reaped by its parent) counts as gone
    return not (status.exists() and status.read_text().split()[2] == "Z")


def test_a_process_that_dies_before_it_is_ready_fails_fast_with_its_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    process = ServerProcess("failing", ["sh", "-c", "echo 'fatal: port taken'; exit 3"], log_path=log)
    process.start()

    with pytest.raises(BrokerStartError, match="fatal: port taken") as raised:
        wait_until(lambda: False, timeout_s=30, what="failing broker", log=log, alive=process.running)

    assert "exited before it was ready" in str(raised.value)
    process.stop()


def test_waiting_past_the_deadline_names_what_was_awaited(tmp_path: Path) -> None:
    with pytest.raises(BrokerStartError, match=r"slow broker: not ready within 0\.2s"):
        wait_until(lambda: False, timeout_s=0.2, what="slow broker")


def test_stopping_a_process_also_stops_the_children_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    process = ServerProcess(
        "parent",
        ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"],
        log_path=tmp_path / "parent.log",
    )
    process.start()
    wait_until(
        lambda: pid_file.exists() and pid_file.read_text().strip() != "", timeout_s=10, what="child pid"
    )
    child = int(pid_file.read_text())

    process.stop(timeout_s=5)

    wait_until(lambda: not _alive(child), timeout_s=10, what="child gone")
    assert not process.running()
