"""``RedisBroker``: one Redis server (``redis://`` or ``rediss://``), opening queue handles on it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Self

from adapters.redis.connection import RedisConnection
from adapters.redis.queue import RedisQueue
from adapters.redis.settings import SCHEMES, RedisSettings
from application.broker import Broker, BrokerOption, settings_from_options
from application.clock import Clock, system_clock
from application.jobs.job_factory import JobFactory

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
        queue = RedisQueue(connection, factory, clock=self.clock)
        self._queues.append(queue)
        logger.info("redis queue %s opened on %s", factory.queue, connection.redacted_url)
        return queue

    async def list_queues(self) -> list[str]:
        """From a ``SCAN`` of ``{prefix:*}:meta`` (every script stamps its queue's meta hash), so
        Redis is never blocked by a ``KEYS`` on a big keyspace."""
        connection = self._connection_or_new()
        prefix = self._settings.key_prefix
        pattern, head, tail = f"{{{prefix}:*}}:meta", f"{{{prefix}:", "}:meta"
        names: set[str] = set()
        async with connection.guard("list queues"):
            async for key in connection.commands.scan_iter(match=pattern, count=1000):
                text = key.decode() if isinstance(key, bytes) else str(key)
                if text.startswith(head) and text.endswith(tail):
                    names.add(text[len(head) : -len(tail)])
        return sorted(names - {""})

    async def close(self) -> None:
        queues, self._queues = self._queues, []
        for queue in queues:
            await queue.close()
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()
