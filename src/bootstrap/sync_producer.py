"""``SyncProducer``: enqueue from synchronous code (WSGI views, scripts, threads), one connection
per process.

The producer runs one ``Backbone`` on an event loop of its own, in a daemon thread started on
first use; every call submits a coroutine to that loop and waits for it at most ``timeout_s``
(``TimeoutError`` then: the add may or may not have been stored, exactly as for an async add
whose connection dropped, so give a ``job_id`` or ``idempotency_key`` to retry safely). Calls are
thread-safe: any number of threads share the one loop and its broker connections. A process forked
after first use (a pre-forking WSGI server) does not inherit a dead loop: the child opens its own
on its first call. ``close()`` (or leaving the ``with`` block, or interpreter exit) closes the
connections and stops the thread.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from application.hooks import Hook
from bootstrap.app import Backbone
from bootstrap.settings import SettingsError
from domain.queue.job import Job, JsonValue, NewJob, QueueStats
from domain.queue.metadata import JobMetadata
from domain.queue.module import DomainModule
from domain.queue.options import JobOptions

T = TypeVar("T")

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0


class _LoopThread:
    """One event loop running in one daemon thread, for one process, and the app it serves."""

    def __init__(self, app: Backbone) -> None:
        self.pid = os.getpid()
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="backbone-sync-producer", daemon=True
        )
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()
            raise TimeoutError(f"the broker did not answer within {timeout_s} s") from None

    def stop(self, timeout_s: float) -> None:
        try:
            self.run(self.app.close(), timeout_s)
        except TimeoutError:
            logger.warning("sync producer: connections not closed within %s s; stopping anyway", timeout_s)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout_s)
            if not self.thread.is_alive():
                self.loop.close()


class SyncProducer:
    """Blocking ``add``/``add_bulk``/``get_job``/``get_stats`` on the enabled modules' queues.

    ``SyncProducer(url, modules=[...])`` connects nothing until the first call. ``enqueue(name,
    data)`` finds the queue from the job name (the module that declares the job routes it), the
    ``.delay()`` habit; ``add(queue, name, data)`` names the queue itself.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        modules: Sequence[DomainModule] | None = None,
        hooks: Sequence[Hook] = (),
        config_file: str | Path | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        **settings: Any,
    ) -> None:
        if not timeout_s > 0:
            raise SettingsError("timeout_s", f"must be > 0 (got {timeout_s})")
        self.timeout_s = timeout_s
        self._open: Callable[[], Backbone] = functools.partial(
            Backbone.open, url, modules=modules, hooks=hooks, config_file=config_file, **settings
        )
        self._first_app: Backbone | None = self._open()  # bad settings fail here; connects nothing yet
        self._first_pid = os.getpid()
        self._lock = threading.Lock()
        self._runner: _LoopThread | None = None
        self._closed = False
        atexit.register(self.close)

    def _loop(self) -> _LoopThread:
        runner = self._runner
        if runner is not None and runner.pid == os.getpid():
            return runner
        with self._lock:
            if self._closed:
                raise RuntimeError("this SyncProducer is closed")
            if self._runner is None or self._runner.pid != os.getpid():
                first, self._first_app = self._first_app, None
                # a forked child opens its own app: the parent's connections are not its own
                app = first if first is not None and self._first_pid == os.getpid() else self._open()
                self._runner = _LoopThread(app)
            return self._runner

    def _call(self, make: Callable[[Backbone], Coroutine[Any, Any, T]], timeout_s: float | None) -> T:
        runner = self._loop()

        async def in_loop() -> T:  # queue handles are made and used on the loop's thread only
            return await make(runner.app)

        return runner.run(in_loop(), self.timeout_s if timeout_s is None else timeout_s)

    def add(
        self,
        queue: str,
        name: str,
        data: JsonValue,
        options: JobOptions | None = None,
        metadata: JobMetadata | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Job:
        """``IGenericQueue.add`` on ``queue``, waiting at most ``timeout_s`` (the producer's default)."""
        return self._call(lambda app: app.queue(queue).add(name, data, options, metadata), timeout_s)

    def enqueue(
        self,
        name: str,
        data: JsonValue,
        options: JobOptions | None = None,
        metadata: JobMetadata | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Job:
        """Add job ``name`` to the queue its module routes it to."""
        return self._call(
            lambda app: app.queue(app.route(name)).add(name, data, options, metadata), timeout_s
        )

    def add_bulk(self, queue: str, jobs: Sequence[NewJob], *, timeout_s: float | None = None) -> list[Job]:
        return self._call(lambda app: app.queue(queue).add_bulk(jobs), timeout_s)

    def get_job(self, queue: str, job_id: str, *, timeout_s: float | None = None) -> Job | None:
        return self._call(lambda app: app.queue(queue).get_job(job_id), timeout_s)

    def get_stats(self, queue: str, *, timeout_s: float | None = None) -> QueueStats:
        return self._call(lambda app: app.queue(queue).get_stats(), timeout_s)

    def close(self) -> None:
        """Close the connections and stop the loop thread. Idempotent."""
        with self._lock:
            self._closed = True
            runner, self._runner = self._runner, None
        atexit.unregister(self.close)
        if runner is not None and runner.pid == os.getpid():
            runner.stop(self.timeout_s)

    def __enter__(self) -> SyncProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
