"""``RedisBroker``: one Redis server or a Redis Cluster (``redis://`` or ``rediss://``), opening queue
handles on it.

Whether the URL names a cluster node is asked of the server at the first open (``INFO cluster``)
unless the ``cluster`` option says so; on a cluster every queue's keys share one slot, so each queue
lives on one master and the cluster client routes its calls there.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Self

from redis.exceptions import ResponseError

from adapters.redis.connection import RedisConnection
from adapters.redis.queue import RedisQueue
from adapters.redis.settings import SCHEMES, RedisSettings
from application.broker import Broker, BrokerOption, settings_from_options
from application.clock import Clock, system_clock
from application.jobs.job_factory import JobFactory
from application.redaction import redact_url

logger = logging.getLogger(__name__)


class RedisBroker(Broker):
    schemes = SCHEMES

    def __init__(self, settings: RedisSettings | str, *, clock: Clock = system_clock) -> None:
        self._settings = settings if isinstance(settings, RedisSettings) else RedisSettings(url=settings)
        self.clock = clock
        self._connection: RedisConnection | None = None
        self._queues: list[RedisQueue] = []
        self._checked = False

    @classmethod
    def from_url(
        cls, url: str, *, clock: Clock = system_clock, options: Mapping[str, BrokerOption] | None = None
    ) -> Self:
        return cls(settings_from_options(RedisSettings, "redis", options, url=url), clock=clock)

    @property
    def url(self) -> str:
        return redact_url(self._settings.url)

    @property
    def settings(self) -> RedisSettings:
        return self._settings

    async def connection(self) -> RedisConnection:
        """The shared clients (the worker registry writes through them too, ADR 0025)."""
        return await self._connection_or_new()

    async def _connection_or_new(self) -> RedisConnection:
        if self._connection is None:
            connection = RedisConnection(self._settings)
            if self._settings.cluster is None:
                try:
                    async with connection.guard("connect"):
                        on_cluster = await _is_cluster_node(connection)
                except BaseException:
                    await connection.close()
                    raise
                if on_cluster:
                    await connection.close()
                    self._settings = dataclasses.replace(self._settings, cluster=True)
                    connection = RedisConnection(self._settings)
                    logger.info("redis %s is a cluster node: queues go by slot", connection.redacted_url)
            self._connection = connection
        return self._connection

    async def open_queue(self, factory: JobFactory) -> RedisQueue:
        connection = await self._connection_or_new()
        async with connection.guard("connect"):
            await connection.commands.ping()
        if self._settings.check_eviction_policy and not self._checked:
            self._checked = True
            await connection.check_eviction_policy()
        queue = RedisQueue(connection, factory, clock=self.clock)
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


async def _is_cluster_node(connection: RedisConnection) -> bool:
    try:
        info = await connection.commands.info("cluster")
    except ResponseError:  # INFO renamed or disabled (some managed servers): treat as one server
        return False
    return bool(info.get("cluster_enabled"))
