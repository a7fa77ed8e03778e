"""Replicated queues on one in-memory log: several engines play several processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from adapters.memory_log import MemoryLeaderElection, MemoryLog, MemorySnapshotStore
from adapters.memory_log.memory_log import MemoryLogStorage
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.replication.engine import ReplicationEngine
from application.replication.replicated_queue import ReplicatedQueue
from application.replication.settings import ReplicationSettings

QUEUE = "replicated-test"
JOB_NAME = "test.run.v1"


class Cluster:
    """One log + snapshot store; ``process()`` opens a queue handle with its own replica."""

    def __init__(self) -> None:
        self.storage = MemoryLogStorage()
        self.snapshots = MemorySnapshotStore()
        self.settings = ReplicationSettings(operation_timeout_ms=500, snapshot_min_interval_ms=0)
        self.handles: list[ReplicatedQueue] = []

    def job_types(self) -> JobTypes:
        types = JobTypes()
        types.register(JOB_NAME)
        return types

    async def process(self, *, leader: bool = False, log: MemoryLog | None = None) -> ReplicatedQueue:
        """``log``: this process's client of the shared storage (default: a plain ``MemoryLog``)."""
        engine = ReplicationEngine(
            QUEUE,
            log or MemoryLog(self.storage),
            self.snapshots,
            MemoryLeaderElection(leader),
            broker="memory-log://local",
            settings=self.settings,
        )
        await engine.start()
        engine.acquire()
        handle = ReplicatedQueue(JobFactory(QUEUE, self.job_types()), engine)
        self.handles.append(handle)
        return handle

    async def close(self) -> None:
        self.storage.available = True
        for handle in self.handles:
            await handle.close()


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    c = Cluster()
    yield c
    await c.close()


ProcessFactory = Callable[..., ReplicatedQueue]
