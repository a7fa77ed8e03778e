"""Redis adapter: every queue transition is one atomic Lua script on a real Redis server.

``RedisBroker`` (selected by ``redis://`` / ``rediss://`` URLs) opens ``RedisQueue`` handles; see
``docs/adapters/redis.md`` for the key layout and what each script does.
"""

from __future__ import annotations

from adapters.redis.broker import RedisBroker
from adapters.redis.queue import RedisQueue
from adapters.redis.settings import RedisSettings

__all__ = ["RedisBroker", "RedisQueue", "RedisSettings"]
