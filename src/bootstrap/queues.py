"""Queue handles the container hands out: one ``JobFactory`` and one handle per queue name.

A ``QueueHandle`` is an ``IGenericQueue``/``QueueBackend`` whose connection opens on first use
(``Broker.open_queue`` is async; the container's graph stays synchronous). The worker and the
benchmark take the opened backend itself (``await handles.open(name)``) to skip the indirection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from application.broker import Broker
from application.encryption.revealing import revealing
from application.hooked_queue import with_hooks
from application.hooks import NO_HOOKS, Hooks
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.jobs.payload_codec import DEFAULT_MAX_JSON_DEPTH
from application.queue_backend import (
    ClaimedJob,
    ClaimRequest,
    FailureReport,
    LeaseRef,
    PayloadRewrite,
    QueueBackend,
)
from bootstrap.topology import Topology

if TYPE_CHECKING:
    from application.encryption.policy import PayloadEncryption
from domain.queue.job import (
    DeadLetter,
    DeadLetterFilter,
    Job,
    JobState,
    JsonValue,
    NewJob,
    Progress,
    QueueStats,
)
from domain.queue.metadata import JobMetadata
from domain.queue.naming import validate_queue_name
from domain.queue.options import JobOptions

SOURCE = "messaging-backbone"


class QueueHandle(QueueBackend):
    """A queue of ``broker`` that connects on first use and delegates every call."""

    def __init__(self, broker: Broker, factory: JobFactory, hooks: Hooks = NO_HOOKS) -> None:
        self._broker = broker
        self._factory = factory
        self._hooks = hooks
        self._backend: QueueBackend | None = None
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self._factory.queue

    @property
    def factory(self) -> JobFactory:
        return self._factory

    async def backend(self) -> QueueBackend:
        """The connected backend (connects once; raises ``BrokerUnavailableError``)."""
        if self._backend is not None:
            return self._backend
        async with self._lock:
            if self._backend is None:
                # the producer hooks, once for every adapter (ADR 0016); the backend itself if none
                self._backend = revealing(  # reads show plaintext where the key is loaded (ADR 0023)
                    with_hooks(await self._broker.open_queue(self._factory), self._hooks),
                    self._factory.encryption,
                )
            return self._backend

    # --- producer side ------------------------------------------------------------------------

    async def add(
        self,
        name: str,
        data: JsonValue,
        options: JobOptions | None = None,
        metadata: JobMetadata | None = None,
    ) -> Job:
        return await (await self.backend()).add(name, data, options, metadata)

    async def add_bulk(self, jobs: Sequence[NewJob]) -> list[Job]:
        return await (await self.backend()).add_bulk(jobs)

    async def get_job(self, job_id: str) -> Job | None:
        return await (await self.backend()).get_job(job_id)

    async def remove_job(self, job_id: str) -> bool:
        return await (await self.backend()).remove_job(job_id)

    async def rewrite_payloads(self, rewrite: PayloadRewrite) -> int:
        return await (await self.backend()).rewrite_payloads(rewrite)

    async def pause(self) -> None:
        await (await self.backend()).pause()

    async def resume(self) -> None:
        await (await self.backend()).resume()

    async def is_paused(self) -> bool:
        return await (await self.backend()).is_paused()

    async def clean(self, grace_ms: int, state: JobState, limit: int = 1000) -> int:
        return await (await self.backend()).clean(grace_ms, state, limit)

    async def get_stats(self) -> QueueStats:
        return await (await self.backend()).get_stats()

    async def list_dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        return await (await self.backend()).list_dead_letters(limit, offset)

    async def reprocess_dead_letter(self, job_id: str) -> bool:
        return await (await self.backend()).reprocess_dead_letter(job_id)

    async def reprocess_dead_letters(self, selection: DeadLetterFilter | None = None) -> int:
        return await (await self.backend()).reprocess_dead_letters(selection)

    async def purge_dead_letters(self, older_than_ms: int) -> int:
        return await (await self.backend()).purge_dead_letters(older_than_ms)

    async def close(self) -> None:
        backend, self._backend = self._backend, None
        if backend is not None:
            await backend.close()

    # --- consumer side ------------------------------------------------------------------------

    async def claim(self, request: ClaimRequest) -> Sequence[ClaimedJob]:
        return await (await self.backend()).claim(request)

    async def extend_leases(self, worker_id: str, leases: Sequence[LeaseRef], lease_ms: int) -> list[str]:
        return await (await self.backend()).extend_leases(worker_id, leases, lease_ms)

    async def update_progress(self, lease: LeaseRef, progress: Progress) -> bool:
        return await (await self.backend()).update_progress(lease, progress)

    async def complete(self, lease: LeaseRef, return_json: str) -> bool:
        return await (await self.backend()).complete(lease, return_json)

    async def fail(self, lease: LeaseRef, report: FailureReport) -> bool:
        return await (await self.backend()).fail(lease, report)

    async def release(self, worker_id: str, leases: Sequence[LeaseRef]) -> None:
        await (await self.backend()).release(worker_id, leases)

    async def hand_back(self, lease: LeaseRef, delay_ms: int) -> bool:
        return await (await self.backend()).hand_back(lease, delay_ms)


class QueueHandles:
    """Every queue of one broker by name: its ``JobFactory`` (topology defaults) and its handle."""

    def __init__(
        self,
        broker: Broker,
        job_types: JobTypes,
        topology: Topology,
        max_payload_bytes: int,
        job_types_of: Callable[[str], JobTypes] | None = None,
        hooks: Hooks = NO_HOOKS,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
        encryption: PayloadEncryption | None = None,
    ) -> None:
        """``job_types_of(queue)`` narrows a queue's accepted job types (default: ``job_types``)."""
        self.broker = broker
        self.job_types = job_types
        self._job_types_of = job_types_of
        self.topology = topology
        self.max_payload_bytes = max_payload_bytes
        self.hooks = hooks
        self.max_json_depth = max_json_depth
        self.encryption = encryption  # seals and opens payloads (ADR 0023); None: none loaded
        self._handles: dict[str, QueueHandle] = {}

    def factory(self, name: str) -> JobFactory:
        return self.handle(name).factory

    def handle(self, name: str) -> QueueHandle:
        handle = self._handles.get(name)
        if handle is None:
            validate_queue_name(name)
            factory = JobFactory(
                name,
                self._job_types_of(name) if self._job_types_of is not None else self.job_types,
                self.topology.for_queue(name).defaults,
                max_payload_bytes=self.max_payload_bytes,
                max_json_depth=self.max_json_depth,
                source=SOURCE,
                encryption=self.encryption,
            )
            handle = QueueHandle(self.broker, factory, self.hooks)
            self._handles[name] = handle
        return handle

    async def open(self, name: str) -> QueueBackend:
        """The connected backend of queue ``name`` (what workers and the benchmark drive)."""
        return await self.handle(name).backend()

    def opened_names(self) -> list[str]:
        return sorted(self._handles)

    async def close(self) -> None:
        """Close every handle, then the broker. Idempotent."""
        for handle in list(self._handles.values()):
            await handle.close()
        await self.broker.close()
