"""What a test gets for a broker: its URL and, for brokers the harness started, stop/start/restart."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import urlsplit

from tests.harness.process import BrokerStartError, log_tail

START_ATTEMPTS = 3  # a freshly picked port can be taken by someone else before the broker binds it


class BrokerControlUnsupportedError(RuntimeError):
    """The broker was not started by the harness (an environment URL or a container): it cannot be
    stopped or restarted from a test."""


class BrokerHandle(ABC):
    """A running broker. ``url`` stays the same across ``restart()``."""

    kind: str = "abstract"

    @property
    @abstractmethod
    def url(self) -> str:
        """Where clients connect (may contain credentials)."""

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        if port is None:
            raise ValueError(f"{self.kind} URL has no port")
        return port

    @property
    def restartable(self) -> bool:
        """True when ``stop``/``start``/``restart`` are available."""
        return False

    def stop(self, *, graceful: bool = True) -> None:
        """Stop the broker, keeping its port (and data dir, where it has one) for ``start``."""
        raise BrokerControlUnsupportedError(f"{self.kind} at {self.describe()} is not owned by the harness")

    def start(self) -> None:
        """Start the broker again after ``stop`` on the same port."""
        raise BrokerControlUnsupportedError(f"{self.kind} at {self.describe()} is not owned by the harness")

    def restart(self, *, graceful: bool = True) -> None:
        """``stop`` then ``start``: same port, same data dir. ``graceful=False`` kills it (SIGKILL)."""
        self.stop(graceful=graceful)
        self.start()

    async def astop(self, *, graceful: bool = True) -> None:
        await asyncio.to_thread(self.stop, graceful=graceful)

    async def astart(self) -> None:
        await asyncio.to_thread(self.start)

    async def arestart(self, *, graceful: bool = True) -> None:
        await asyncio.to_thread(self.restart, graceful=graceful)

    def close(self) -> None:  # noqa: B027 - a no-op by default on purpose
        """Release the broker for good (processes stopped, temporary data removed)."""

    def describe(self) -> str:
        """The URL without its password, for messages."""
        parts = urlsplit(self.url)
        host = f"{parts.hostname}:{parts.port}" if parts.port else (parts.hostname or "")
        return f"{parts.scheme}://{host}{parts.path}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


class ExternalBroker(BrokerHandle):
    """A broker someone else runs, given by URL (``BACKBONE_TEST_*_URL``)."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind = kind
        self._url = url

    @property
    def url(self) -> str:
        return self._url


class LocalBroker(BrokerHandle):
    """A broker process the harness runs on a free loopback port with a temporary data dir."""

    def __init__(self, base_dir: Path | None = None) -> None:
        self._owns_base_dir = base_dir is None
        self.base_dir = (
            Path(tempfile.mkdtemp(prefix=f"backbone-{self.kind}-")) if base_dir is None else base_dir
        )
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.base_dir / f"{self.kind}.log"
        self._port: int | None = None
        self._lock = threading.RLock()
        self._closed = False

    @property
    def restartable(self) -> bool:
        return True

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self.kind} has not been started")
        return self._port

    def log_tail(self) -> str:
        return log_tail(self.log_path)

    def start(self) -> None:
        """Start on the port it had (or, first time, on a fresh free port, retried on a conflict)."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.kind} broker was closed")
            if self._port is not None:
                self._start_on(self._port)
                return
            last: BrokerStartError | None = None
            for _ in range(START_ATTEMPTS):
                port = self._pick_port()
                try:
                    self._start_on(port)
                except BrokerStartError as exc:
                    last = exc
                    self._stop_processes(graceful=False)
                    continue
                self._port = port
                return
            assert last is not None
            raise last

    def stop(self, *, graceful: bool = True) -> None:
        with self._lock:
            self._stop_processes(graceful=graceful)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._stop_processes(graceful=False)
                self._release()
            finally:
                if self._owns_base_dir:
                    shutil.rmtree(self.base_dir, ignore_errors=True)

    @abstractmethod
    def _pick_port(self) -> int:
        """A fresh client port (and any helper ports the broker needs)."""

    @abstractmethod
    def _start_on(self, port: int) -> None:
        """Start the broker on ``port`` and return once it serves clients (raise ``BrokerStartError``)."""

    @abstractmethod
    def _stop_processes(self, *, graceful: bool) -> None:
        """Stop the broker's processes (idempotent), keeping its data dir."""

    def _release(self) -> None:
        """Stop helper processes that live across restarts (epmd)."""
