"""``RedisWorkerRegistry``: one key per worker with a TTL, and an index of worker ids (ADR 0025).

``{prefix:workers}:worker:<id>`` holds the heartbeat's JSON with ``PX`` = its ``ttl_ms``, so Redis
itself drops a worker that stopped beating; ``{prefix:workers}:index`` is a set of the ids to look
up (an id whose key has expired is removed from it while listing). Both keys share one hash tag.
"""

from __future__ import annotations

from adapters.redis.broker import RedisBroker
from application.presence.registry import WorkerHeartbeat, WorkerRegistry, latest_live


class RedisWorkerRegistry(WorkerRegistry):
    def __init__(self, broker: RedisBroker) -> None:
        self._broker = broker
        self._clock = broker.clock
        self._tag = f"{{{broker.settings.key_prefix}:workers}}"

    @property
    def index_key(self) -> str:
        return f"{self._tag}:index"

    def worker_key(self, worker_id: str) -> str:
        return f"{self._tag}:worker:{worker_id}"

    async def publish(self, beat: WorkerHeartbeat) -> None:
        connection = await self._broker.connection()
        commands = connection.commands
        async with (
            connection.guard("storing a worker heartbeat"),
            commands.pipeline(transaction=True) as pipe,
        ):
            pipe.set(self.worker_key(beat.worker_id), beat.to_json(), px=beat.ttl_ms)
            pipe.sadd(self.index_key, beat.worker_id)
            await pipe.execute()

    async def remove(self, worker_id: str) -> None:
        connection = await self._broker.connection()
        commands = connection.commands
        async with (
            connection.guard("removing a worker heartbeat"),
            commands.pipeline(transaction=True) as pipe,
        ):
            pipe.delete(self.worker_key(worker_id))
            pipe.srem(self.index_key, worker_id)
            await pipe.execute()

    async def live(self) -> list[WorkerHeartbeat]:
        connection = await self._broker.connection()
        commands = connection.commands
        async with connection.guard("listing worker heartbeats"):
            members = await commands.smembers(self.index_key)
            ids = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
            values = await commands.mget([self.worker_key(worker_id) for worker_id in ids]) if ids else []
            expired = [worker_id for worker_id, value in zip(ids, values, strict=True) if value is None]
            if expired:
                await commands.srem(self.index_key, *expired)
        beats = [beat for value in values if value is not None and (beat := WorkerHeartbeat.from_json(value))]
        # Redis dropped the expired keys; the clock check covers a key read just before its expiry
        return latest_live(beats, self._clock())
