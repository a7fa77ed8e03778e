"""Worker heartbeats as a hook (ADR 0016, ADR 0025): the hook follows which jobs run in this
process from the worker events; ``WorkerPresence.publishing(workers)`` stores a heartbeat on the
broker every ``interval_ms`` while the workers run, and removes it when they stop. The worker core
is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Sequence

from application.clock import Clock, system_clock
from application.hooks import Attempt, Hook
from application.presence.registry import (
    HEARTBEAT_MISSES,
    MAX_LISTED_ACTIVE_JOBS,
    ActiveJob,
    WorkedQueue,
    WorkerHeartbeat,
    WorkerRegistry,
)
from application.worker import Worker
from application.worker.options import default_worker_id
from domain.queue.errors import BrokerUnavailableError

logger = logging.getLogger(__name__)

REMOVE_TIMEOUT_S = 5.0


class ActiveJobsHook(Hook):
    """The jobs whose handler runs now in this process, from ``on_started`` to the attempt's end."""

    def __init__(self, clock: Clock = system_clock) -> None:
        self.clock = clock
        self._active: dict[tuple[str, str], ActiveJob] = {}

    def snapshot(self) -> list[ActiveJob]:
        return sorted(self._active.values(), key=lambda job: (job.started_at, job.queue, job.job_id))

    def on_started(self, attempt: Attempt) -> None:
        job = attempt.job
        self._active[(job.queue, job.id)] = ActiveJob(
            job.queue, job.id, job.name, attempt.number, self.clock()
        )

    def _ended(self, attempt: Attempt) -> None:
        self._active.pop((attempt.queue, attempt.job.id), None)

    on_completed = on_retry_scheduled = on_dead_lettered = on_lease_lost = _ended


class WorkerPresence:
    """The heartbeat of this process's workers on ``registry``, every ``interval_ms``."""

    def __init__(
        self,
        registry: WorkerRegistry,
        version: str,
        interval_ms: int,
        *,
        clock: Clock = system_clock,
        worker_id: str | None = None,
        hook: ActiveJobsHook | None = None,
    ) -> None:
        """``hook`` (made here when not given) must observe the workers this presence describes."""
        self.registry = registry
        self.version = version
        self.interval_ms = interval_ms
        self.clock = clock
        self.worker_id = worker_id or default_worker_id()
        self.hook = hook if hook is not None else ActiveJobsHook(clock)
        self.started_at = clock()
        self._workers: Sequence[Worker] = ()

    @property
    def ttl_ms(self) -> int:
        return HEARTBEAT_MISSES * self.interval_ms

    def heartbeat(self) -> WorkerHeartbeat:
        active = self.hook.snapshot()
        return WorkerHeartbeat(
            worker_id=self.worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=self.version,
            started_at=self.started_at,
            beat_at=self.clock(),
            ttl_ms=self.ttl_ms,
            queues=tuple(
                WorkedQueue(w.queue, w.options.worker_id, w.options.concurrency) for w in self._workers
            ),
            active_count=len(active),
            active_jobs=tuple(active[:MAX_LISTED_ACTIVE_JOBS]),
        )

    async def beat(self) -> None:
        await self.registry.publish(self.heartbeat())

    async def _beating(self) -> None:
        while True:
            try:
                await self.beat()
            except BrokerUnavailableError as exc:  # the next beat tries again; a long outage drops us
                logger.warning("worker heartbeat not stored worker_id=%s: %s", self.worker_id, exc)
            except Exception:
                logger.exception("worker heartbeat failed worker_id=%s", self.worker_id)
            await asyncio.sleep(self.interval_ms / 1000)

    @contextlib.asynccontextmanager
    async def publishing(self, workers: Sequence[Worker]) -> AsyncIterator[None]:
        """Heartbeats for ``workers`` while the block runs; removed (and the registry closed) at its end."""
        self._workers = tuple(workers)
        self.started_at = self.clock()
        task = asyncio.create_task(self._beating(), name=f"heartbeat:{self.worker_id}")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            try:
                await asyncio.wait_for(self.registry.remove(self.worker_id), REMOVE_TIMEOUT_S)
            except (BrokerUnavailableError, TimeoutError) as exc:
                logger.warning(
                    "worker heartbeat not removed worker_id=%s (expires by itself): %s", self.worker_id, exc
                )
            finally:
                await self.registry.close()
