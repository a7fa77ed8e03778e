"""``MemoryWorkerRegistry``: heartbeats kept with a ``MemoryBroker`` (ADR 0025).

Like the broker's queues, they live in this process: workers and ``live()`` must share the broker
object (the test kit, an embedded app). Expiry is read from the broker's clock.
"""

from __future__ import annotations

import weakref

from adapters.memory.broker import MemoryBroker
from application.presence.registry import WorkerHeartbeat, WorkerRegistry, latest_live

_BEATS: weakref.WeakKeyDictionary[MemoryBroker, dict[str, WorkerHeartbeat]] = weakref.WeakKeyDictionary()


class MemoryWorkerRegistry(WorkerRegistry):
    def __init__(self, broker: MemoryBroker) -> None:
        self._clock = broker.clock
        beats = _BEATS.get(broker)
        if beats is None:
            beats = _BEATS[broker] = {}
        self._beats = beats

    async def publish(self, beat: WorkerHeartbeat) -> None:
        self._beats[beat.worker_id] = beat

    async def remove(self, worker_id: str) -> None:
        self._beats.pop(worker_id, None)

    async def live(self) -> list[WorkerHeartbeat]:
        now = self._clock()
        for worker_id in [w for w, beat in self._beats.items() if beat.expires_at <= now]:
            del self._beats[worker_id]
        return latest_live(self._beats.values(), now)
