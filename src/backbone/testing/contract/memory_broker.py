"""The memory broker as the contract drives it (``memory://``).

The memory broker lives in one process, so its "second worker" runs in this process too, on its
own handle; "killing" it cuts that handle off (every later call fails, nothing is cleaned up),
which is what the broker sees when a worker process dies. Its outage is closing and reopening the
broker (state kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from typing import Any

from adapters.memory import MemoryBroker, MemoryQueue
from application.encryption.revealing import revealing
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.queue_backend import ClaimedJob, ClaimRequest, FailureReport, LeaseRef, QueueBackend
from application.worker import HandlerRegistry, Worker, WorkerOptions
from backbone.testing.contract.helpers import contract_job_types
from backbone.testing.contract.poison_behaviours import memory_job_record
from backbone.testing.contract.support import BrokerUnderTest, SecondWorker
from domain.queue.context import JobContext
from domain.queue.errors import BrokerUnavailableError
from domain.queue.job import Progress
from domain.queue.options import QueueDefaults


class CrashableQueue(QueueBackend):
    """A handle that can be cut off at once, like the connection of a killed process."""

    def __init__(self, inner: MemoryQueue) -> None:
        self._inner = inner
        self.dead = False

    def _alive(self) -> MemoryQueue:
        if self.dead:
            raise BrokerUnavailableError("memory://", "this worker's process is dead")
        return self._inner

    @property
    def name(self) -> str:
        return self._inner.name

    async def add(self, *args: Any, **kwargs: Any) -> Any:
        return await self._alive().add(*args, **kwargs)

    async def add_bulk(self, jobs: Any) -> Any:
        return await self._alive().add_bulk(jobs)

    async def get_job(self, job_id: str) -> Any:
        return await self._alive().get_job(job_id)

    async def remove_job(self, job_id: str) -> bool:
        return await self._alive().remove_job(job_id)

    async def rewrite_payloads(self, rewrite: Any) -> int:
        return await self._alive().rewrite_payloads(rewrite)

    async def pause(self) -> None:
        await self._alive().pause()

    async def resume(self) -> None:
        await self._alive().resume()

    async def is_paused(self) -> bool:
        return await self._alive().is_paused()

    async def clean(self, grace_ms: int, state: Any, limit: int = 1000) -> int:
        return await self._alive().clean(grace_ms, state, limit)

    async def get_stats(self) -> Any:
        return await self._alive().get_stats()

    async def list_dead_letters(self, limit: int = 100, offset: int = 0) -> Any:
        return await self._alive().list_dead_letters(limit, offset)

    async def reprocess_dead_letter(self, job_id: str) -> bool:
        return await self._alive().reprocess_dead_letter(job_id)

    async def reprocess_dead_letters(self, selection: Any = None) -> int:
        return await self._alive().reprocess_dead_letters(selection)

    async def purge_dead_letters(self, older_than_ms: int) -> int:
        return await self._alive().purge_dead_letters(older_than_ms)

    async def close(self) -> None:
        self.dead = True

    async def claim(self, request: ClaimRequest) -> Sequence[ClaimedJob]:
        return await self._alive().claim(request)

    async def extend_leases(self, worker_id: str, leases: Sequence[LeaseRef], lease_ms: int) -> list[str]:
        return await self._alive().extend_leases(worker_id, leases, lease_ms)

    async def update_progress(self, lease: LeaseRef, progress: Progress) -> bool:
        return await self._alive().update_progress(lease, progress)

    async def complete(self, lease: LeaseRef, return_json: str) -> bool:
        return await self._alive().complete(lease, return_json)

    async def fail(self, lease: LeaseRef, report: FailureReport) -> bool:
        return await self._alive().fail(lease, report)

    async def release(self, worker_id: str, leases: Sequence[LeaseRef]) -> None:
        await self._alive().release(worker_id, leases)

    async def hand_back(self, lease: LeaseRef, delay_ms: int) -> bool:
        return await self._alive().hand_back(lease, delay_ms)


class InProcessWorker(SecondWorker):
    def __init__(self, worker: Worker, handle: CrashableQueue) -> None:
        self._worker = worker
        self._handle = handle
        self._task = asyncio.create_task(worker.run())

    @property
    def pid(self) -> int:
        return os.getpid()

    async def wait_ready(self, timeout_s: float) -> None:
        await asyncio.wait_for(self._worker.wait_started(), timeout_s)

    async def stop(self, timeout_s: float) -> None:
        self._worker.request_stop()
        await asyncio.wait_for(self._task, timeout_s)

    async def kill(self) -> None:
        """Die without cleanup: the handle is cut first, so nothing is reported or handed back."""
        self._handle.dead = True
        self._worker.request_stop(grace_ms=0)
        with contextlib.suppress(BrokerUnavailableError):
            await asyncio.wait_for(self._task, 10)


class MemoryBrokerUnderTest(BrokerUnderTest):
    name = "memory"

    def __init__(self, broker: MemoryBroker | None = None) -> None:
        self.broker = broker or MemoryBroker()
        self._workers: list[InProcessWorker] = []

    async def open_queue(
        self,
        queue: str,
        job_types: JobTypes,
        defaults: QueueDefaults,
        *,
        max_payload_bytes: int = 512 * 1024,
        encryption: Any = None,
    ) -> QueueBackend:
        return revealing(
            await self.broker.open_queue(
                JobFactory(
                    queue, job_types, defaults, max_payload_bytes=max_payload_bytes, encryption=encryption
                )
            ),
            encryption,
        )

    async def open_unreachable_queue(self, queue: str, job_types: JobTypes, timeout_ms: int) -> QueueBackend:
        closed = MemoryBroker()
        await closed.close()
        return await closed.open_queue(JobFactory(queue, job_types))

    async def write_raw_record(self, queue: str, raw: bytes) -> None:
        handle = self.broker.queue(JobFactory(queue, contract_job_types()))
        handle.accept_raw_record(raw)

    async def write_raw_job(self, queue: str, job_id: str, name: str, data: bytes) -> None:
        await self.write_raw_record(queue, memory_job_record(job_id, name, data))

    async def start_second_worker(
        self,
        queue: str,
        job_names: Sequence[str],
        behaviour: str,
        *,
        concurrency: int = 1,
        lease_ms: int = 1000,
    ) -> SecondWorker:
        handle = CrashableQueue(self.broker.queue(JobFactory(queue, JobTypes(strict=False))))
        holder: list[InProcessWorker] = []

        async def record(data: Any, ctx: JobContext) -> dict[str, int]:
            sleep_ms = data.get("sleep_ms", 0) if isinstance(data, dict) else 0
            await asyncio.sleep(sleep_ms / 1000)
            return {"pid": os.getpid()}

        async def suicide(data: Any, ctx: JobContext) -> dict[str, int]:
            if isinstance(data, dict) and (data.get("always") or data.get("kill_pid") == os.getpid()):
                holder[0]._handle.dead = True  # the process "dies": its connection is gone
                await asyncio.Event().wait()  # and it never finishes this job
            return await record(data, ctx)

        handler = {"record": record, "suicide": suicide}[behaviour]
        registry = HandlerRegistry(JobTypes(strict=False), dict.fromkeys(job_names, handler))
        options = WorkerOptions(
            concurrency=concurrency, lease_ms=lease_ms, block_ms=100, claim_error_backoff_ms=50
        )
        second = InProcessWorker(Worker(handle, registry, options), handle)
        holder.append(second)
        self._workers.append(second)
        return second

    async def interrupt_and_restore(self) -> None:
        await self.broker.close()
        await asyncio.sleep(0.3)
        self.broker.reopen()

    async def close(self) -> None:
        for worker in self._workers:
            await worker.kill()
