"""The HTTP endpoint of ``backbone worker --metrics-port N`` (docs/operations.md), one port:

- ``/metrics``: the Prometheus hook's registry (``adapters.observability.prometheus``), queue
  gauges refreshed from ``get_stats`` every ``metrics_stats_interval_ms``;
- ``/healthz``: the process and its event loop answer. A task on the loop stamps a heartbeat
  (every quarter of ``liveness_timeout_ms``, at most every second); the HTTP thread answers 503 once
  the stamp is older than ``liveness_timeout_ms``, so a blocked loop fails the probe within that time;
- ``/readyz``: every worked queue's ``get_stats`` answers within ``readiness_timeout_ms`` (run on
  the loop, so a blocked loop is not ready either) and its failure rate (dead letters / finished
  jobs still held, as ``backbone health``) is at most the queue's threshold, when one is set.

The server is the standard library's ``ThreadingHTTPServer`` in a daemon thread; ``prometheus_client``
is imported only when the endpoint is enabled (the ``prometheus`` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeoutError
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from typing import TYPE_CHECKING, Any

from application.worker import Worker
from bootstrap.broker_table import DISTRIBUTION
from bootstrap.health import QueueHealth, check_health
from bootstrap.queues import QueueHandles
from bootstrap.settings import SettingsError, WorkerSettings
from bootstrap.wiring import WorkerFactory

if TYPE_CHECKING:
    from adapters.observability.prometheus import PrometheusHook

logger = logging.getLogger(__name__)

HEARTBEAT_MAX_INTERVAL_S = 1.0


def _prometheus_hook() -> PrometheusHook:
    try:
        from adapters.observability.prometheus import PrometheusHook
    except ImportError as exc:
        raise SettingsError(
            "worker.metrics_port",
            f"needs prometheus_client ({exc.name} is missing): pip install '{DISTRIBUTION}[prometheus]'",
        ) from None
    return PrometheusHook()


def _version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


class WorkerProbes:
    """Metrics and probes for the workers of one process; ``serving(workers)`` runs the endpoint."""

    def __init__(self, settings: WorkerSettings, port: int, handles: QueueHandles) -> None:
        self.settings = settings
        self.port = port
        self.handles = handles
        self.hook = _prometheus_hook()
        self.queues: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._beat = time.monotonic()

    @classmethod
    def from_settings(
        cls, settings: WorkerSettings, port: int | None, handles: QueueHandles
    ) -> WorkerProbes | None:
        """The endpoint when a port is given (the flag wins over ``worker.metrics_port``), else None."""
        chosen = port if port is not None else settings.metrics_port
        if chosen is None:
            return None
        if not 1 <= chosen <= 65535:
            raise SettingsError("--metrics-port", f"must be in 1..65535 (got {chosen})")
        return cls(settings, chosen, handles)

    def instrument(self, factory: WorkerFactory) -> WorkerFactory:
        """The same factory with the Prometheus hook after its own hooks."""
        return WorkerFactory(factory.queues, factory.handlers, factory.settings, (*factory.hooks, self.hook))

    # --- the checks ---------------------------------------------------------------------------------

    @property
    def liveness_timeout_s(self) -> float:
        return self.settings.liveness_timeout_ms / 1000

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        age = time.monotonic() - self._beat
        live = age <= self.liveness_timeout_s
        return live, {
            "status": "ok" if live else "event loop blocked",
            "heartbeat_age_s": round(age, 3),
            "limit_s": self.liveness_timeout_s,
        }

    def max_failure_rate(self, queue: str) -> float | None:
        return self.settings.readiness_max_failure_rates.get(queue, self.settings.readiness_max_failure_rate)

    def _entry(self, health: QueueHealth) -> dict[str, Any]:
        entry = health.as_dict()
        limit = self.max_failure_rate(health.queue)
        rate = health.failure_rate
        entry["ready"] = health.up and (limit is None or rate is None or rate <= limit)
        if limit is not None:
            entry["max_failure_rate"] = limit
        return entry

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Called from the HTTP thread: the check runs on the loop, waited on with a deadline."""
        timeout_s = self.settings.readiness_timeout_ms / 1000
        loop = self._loop
        if loop is None:
            return False, {"status": "not started"}
        future = asyncio.run_coroutine_threadsafe(check_health(self.handles, self.queues, timeout_s), loop)
        try:
            report = future.result(timeout_s + 1.0)
        except FutureTimeoutError:
            future.cancel()
            return False, {"status": f"the event loop did not answer within {timeout_s + 1.0:g} s"}
        entries = [self._entry(health) for health in report]
        ready = all(entry["ready"] for entry in entries)
        return ready, {"status": "ready" if ready else "not ready", "queues": entries}

    # --- running --------------------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        interval = min(HEARTBEAT_MAX_INTERVAL_S, self.liveness_timeout_s / 4)
        while True:
            self._beat = time.monotonic()
            await asyncio.sleep(interval)

    async def _poll_stats(self) -> None:
        interval = self.settings.metrics_stats_interval_ms / 1000
        timeout_s = self.settings.readiness_timeout_ms / 1000
        while True:
            try:
                for health in await check_health(self.handles, self.queues, timeout_s):
                    if health.stats is not None:
                        self.hook.queue_stats(health.queue, health.stats)
            except Exception:  # the gauges keep their last values; the next poll tries again
                logger.exception("polling the queue stats for the metrics failed")
            await asyncio.sleep(interval)

    def _bind(self) -> ThreadingHTTPServer:
        try:
            server = ThreadingHTTPServer((self.settings.metrics_host, self.port), _handler_for(self))
        except OSError as exc:
            raise SettingsError(
                "worker.metrics_port",
                f"cannot listen on {self.settings.metrics_host}:{self.port} ({exc.strerror or exc})",
            ) from None
        server.daemon_threads = True
        return server

    @contextlib.asynccontextmanager
    async def serving(self, workers: Sequence[Worker]) -> AsyncIterator[None]:
        """Serve until the block ends; the gauges describe ``workers``."""
        self._loop = asyncio.get_running_loop()
        self.queues = [worker.queue for worker in workers]
        version = _version()
        for worker in workers:
            options = worker.options
            self.hook.worker_started(
                worker.queue, options.worker_id, options.concurrency, version, _active_jobs(worker)
            )
        self._beat = time.monotonic()
        server = self._bind()
        thread = threading.Thread(target=server.serve_forever, name="backbone-probes", daemon=True)
        thread.start()
        tasks = [
            asyncio.create_task(self._heartbeat(), name="probes:heartbeat"),
            asyncio.create_task(self._poll_stats(), name="probes:stats"),
        ]
        host, port = server.server_address[:2]
        logger.info("metrics and probes on http://%s:%s (/metrics, /healthz, /readyz)", host, port)
        try:
            yield
        finally:
            self.hook.workers_stopped()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(server.shutdown)
            server.server_close()


def _active_jobs(worker: Worker) -> Callable[[], float]:
    return lambda: worker.active_count  # read by the HTTP thread at scrape time: one len()


def _handler_for(probes: WorkerProbes) -> type[BaseHTTPRequestHandler]:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    class ProbeHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(probes.hook.registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._json(*probes.liveness())
            elif path == "/readyz":
                self._json(*probes.readiness())
            else:
                self._send(404, b"not found: /metrics, /healthz or /readyz\n", "text/plain; charset=utf-8")

        def _json(self, ok: bool, body: dict[str, Any]) -> None:
            self._send(200 if ok else 503, json.dumps(body).encode() + b"\n", "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: debug only
            logger.debug("probe %s", format % args)

    return ProbeHandler
