"""``RedisBroker``: one Redis server (``redis://`` or ``rediss://``), opening queue handles on it."""

from __future__ import annotations

import logging

from adapters.redis.connection import RedisConnection
from adapters.redis.queue import RedisQueue
from adapters.redis.settings import RedisSettings
from application.broker import Broker
from application.clock import Clock, system_clock
from application.jobs.job_factory import JobFactory
from domain.queue.errors import BrokerUnavailableError

logger = logging.getLogger(__name__)


class RedisBroker(Broker):
    def __init__(self, settings: RedisSettings | str, *, clock: Clock = system_clock) -> None:
        self._settings = settings if isinstance(settings, RedisSettings) else RedisSettings(url=settings)
        self._clock = clock
        self._connection: RedisConnection | None = None
        self._queues: list[RedisQueue] = []
        self._checked = False

    @property
    def url(self) -> str:
        return self._connection_or_new().redacted_url

    @property
    def settings(self) -> RedisSettings:
        return self._settings

    def _connection_or_new(self) -> RedisConnection:
        if self._connection is None:
            self._connection = RedisConnection(self._settings)
        return self._connection

    async def open_queue(self, factory: JobFactory) -> RedisQueue:
        connection = self._connection_or_new()
        async with connection.guard("connect"):
            await connection.commands.ping()
        if self._settings.check_eviction_policy and not self._checked:
            self._checked = True
            await connection.check_eviction_policy()
        queue = RedisQueue(connection, factory, clock=self._clock)
        self._queues.append(queue)
        logger.info("redis queue %s opened on %s", factory.queue, connection.redacted_url)
        return queue

    async def close(self) -> None:
        queues, self._queues = self._queues, []
        for queue in queues:
            await queue.close()
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()


async def open_standalone_queue(settings: RedisSettings, factory: JobFactory) -> RedisQueue:
    """A queue handle that owns its own connection (closing the handle closes it)."""
    connection = RedisConnection(settings)
    try:
        async with connection.guard("connect"):
            await connection.commands.ping()
        if settings.check_eviction_policy:
            await connection.check_eviction_policy()
    except BrokerUnavailableError:
        await connection.close()
        raise
    return RedisQueue(connection, factory, owns_connection=True)
