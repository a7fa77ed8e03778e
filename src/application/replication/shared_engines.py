"""``SharedEngines``: one ``ReplicationEngine`` per queue per process, shared by every handle.

A log adapter's ``Broker`` keeps one of these: ``open_queue`` returns a new ``ReplicatedQueue``
handle on the queue's engine, opening the engine's log on first use (the replica itself loads
when an operation first needs the queue's state, ADR 0028); the engine closes when its last
handle closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from application.jobs.job_factory import JobFactory
from application.replication.engine import ReplicationEngine
from application.replication.replicated_queue import ReplicatedQueue


class SharedEngines:
    def __init__(self, make_engine: Callable[[str], ReplicationEngine]) -> None:
        self._make_engine = make_engine
        self._engines: dict[str, ReplicationEngine] = {}
        self._lock = asyncio.Lock()

    async def open_queue(self, factory: JobFactory) -> ReplicatedQueue:
        async with self._lock:
            engine = self._engines.get(factory.queue)
            if engine is None or engine.closed:
                engine = self._make_engine(factory.queue)
                try:
                    await engine.open()  # the replica loads on first use (ADR 0028)
                except BaseException:
                    await engine.close()
                    raise
                self._engines[factory.queue] = engine
            engine.acquire()
        return ReplicatedQueue(factory, engine)

    async def close(self) -> None:
        async with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            await engine.close()
