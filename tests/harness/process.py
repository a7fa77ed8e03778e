"""A broker server process the harness owns: started in its own process group, logged to a file,
waited on with deadlines, and always stopped (fixture finalizers first, ``atexit`` as a backstop)."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

LOG_TAIL_LINES = 40


class BrokerStartError(RuntimeError):
    """A broker did not start (or stop) in time; the message carries the tail of its log."""


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout_s: float,
    what: str,
    log: Path | None = None,
    alive: Callable[[], bool] | None = None,
    interval_s: float = 0.05,
) -> None:
    """Poll ``ready`` until it returns True; raise ``BrokerStartError`` (with the log tail) on timeout
    or as soon as ``alive`` reports the process has died."""
    deadline = time.monotonic() + timeout_s
    while True:
        if ready():
            return
        if alive is not None and not alive():
            raise BrokerStartError(_with_tail(f"{what}: the process exited before it was ready", log))
        if time.monotonic() >= deadline:
            raise BrokerStartError(_with_tail(f"{what}: not ready within {timeout_s:.1f}s", log))
        time.sleep(interval_s)


def _with_tail(message: str, log: Path | None) -> str:
    if log is None:
        return message
    return f"{message}\n--- last lines of {log} ---\n{log_tail(log)}"


class ServerProcess:
    """One long-running child process with its output appended to ``log_path``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._popen is None else self._popen.pid

    def start(self) -> None:
        if self.running():
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"=== {time.strftime('%H:%M:%S')} starting {self.name}\n".encode())
            log.flush()
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # its own process group: Ctrl-C does not reach it, killpg does
            )
        _register(self)
        logger.debug("started %s pid=%s", self.name, self._popen.pid)

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def stop(self, *, timeout_s: float = 15.0, graceful: bool = True) -> None:
        """SIGTERM (graceful) or SIGKILL the whole process group and wait for it to exit."""
        popen = self._popen
        if popen is None:
            return
        try:
            if popen.poll() is None:
                if graceful:
                    self._signal_group(popen.pid, signal.SIGTERM)
                    try:
                        popen.wait(timeout=timeout_s)
                    except subprocess.TimeoutExpired:
                        logger.warning("%s ignored SIGTERM for %.0fs; killing it", self.name, timeout_s)
                self._signal_group(popen.pid, signal.SIGKILL)
                popen.wait(timeout=10)
            else:
                # the leader is gone; anything it left in its group goes too
                self._signal_group(popen.pid, signal.SIGKILL)
        finally:
            self._popen = None
            _unregister(self)

    def wait_exit(self, timeout_s: float) -> bool:
        """Wait for the process to exit by itself; True if it did."""
        if self._popen is None:
            return True
        try:
            self._popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)


_live: set[ServerProcess] = set()
_live_lock = threading.Lock()
_atexit_registered = False


def _register(process: ServerProcess) -> None:
    global _atexit_registered
    with _live_lock:
        _live.add(process)
        if not _atexit_registered:
            atexit.register(stop_all_processes)
            _atexit_registered = True


def _unregister(process: ServerProcess) -> None:
    with _live_lock:
        _live.discard(process)


def stop_all_processes() -> None:
    """Kill every process the harness still owns (the ``atexit`` backstop)."""
    with _live_lock:
        remaining = list(_live)
    for process in remaining:
        with contextlib.suppress(Exception):
            process.stop(timeout_s=5.0)


def run_command(argv: Sequence[str], *, env: Mapping[str, str] | None, timeout_s: float) -> tuple[int, str]:
    """Run a short command (a broker CLI); return its exit code and combined output."""
    try:
        done = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else ""
        return -1, f"timed out after {timeout_s:.0f}s\n{output}"
    return done.returncode, done.stdout.decode(errors="replace")
