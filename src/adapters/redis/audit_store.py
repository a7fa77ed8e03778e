"""``RedisAuditStore``: the audit log as one Redis stream, ``<key_prefix>:audit`` (ADR 0024).

Each entry is one stream record (field ``e``: the entry as JSON) whose id is the entry's time in
ms (raised past the newest id when clocks of two writers disagree), written by one script that
also trims every record older than the retention (``XADD ... MINID``). ``read`` ranges over ids
from ``max(since, now - retention)``, so an entry past its retention is never shown even before
the next write trims it. The clients are a ``RedisBroker``'s (no queue opened), so a Redis Cluster
is found and used as for queues; the stream is one key, in one slot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.exceptions import RedisError

from adapters.redis.broker import RedisBroker
from adapters.redis.settings import RedisSettings
from application.audit import (
    DEFAULT_RETENTION_MS,
    AuditEntry,
    AuditQuery,
    AuditStore,
    AuditWriteError,
    select,
)
from application.broker import BrokerOption, settings_from_options
from application.clock import Clock, system_clock
from domain.queue.errors import QueueError

PAGE = 500

# KEYS[1] the stream; ARGV: entry time ms, entry JSON, oldest id kept (ms)
APPEND = """
local ms = tonumber(ARGV[1])
local id = string.format('%.0f', ms) .. '-0'
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last > 0 then
  local top = last[1][1]
  local dash = string.find(top, '-', 1, true)
  local top_ms = tonumber(string.sub(top, 1, dash - 1))
  if ms <= top_ms then
    id = string.sub(top, 1, dash - 1) .. '-' .. string.format('%.0f', tonumber(string.sub(top, dash + 1)) + 1)
  end
end
redis.call('XADD', KEYS[1], 'MINID', ARGV[3], id, 'e', ARGV[2])
return id
"""


class RedisAuditStore(AuditStore):
    def __init__(
        self,
        settings: RedisSettings,
        *,
        retention_ms: int = DEFAULT_RETENTION_MS,
        clock: Clock = system_clock,
    ) -> None:
        self.retention_ms = retention_ms
        self.clock = clock
        self.key = f"{settings.key_prefix}:audit"
        self._broker = RedisBroker(settings)  # its clients only (a cluster is found as for queues)

    @classmethod
    def from_url(
        cls,
        url: str,
        options: Mapping[str, BrokerOption] | None = None,
        *,
        retention_ms: int = DEFAULT_RETENTION_MS,
        clock: Clock = system_clock,
    ) -> RedisAuditStore:
        settings = settings_from_options(RedisSettings, "redis", options, url=url)
        return cls(settings, retention_ms=retention_ms, clock=clock)

    async def append(self, entry: AuditEntry) -> None:
        connection = await self._broker.connection()
        try:
            async with connection.guard("audit write"):
                await connection.commands.eval(
                    APPEND, 1, self.key, entry.time_ms, entry.to_json(), self.oldest_kept_ms()
                )
        except RedisError as exc:  # e.g. WRONGTYPE: the key holds something else
            raise AuditWriteError(f"redis {connection.redacted_url} {self.key}: {exc}") from exc

    async def read(self, query: AuditQuery) -> list[AuditEntry]:
        connection = await self._broker.connection()
        start = max(self.oldest_kept_ms(), query.since_ms or 0, 0)
        entries: list[AuditEntry] = []
        lower = f"{start}-0"
        try:
            async with connection.guard("audit read"):
                while True:
                    page: Any = await connection.commands.xrange(self.key, lower, "+", count=PAGE)
                    for _record_id, fields in page:
                        raw = fields.get(b"e")
                        if raw is not None:
                            entries.append(AuditEntry.from_json(raw))
                    if len(page) < PAGE:
                        break
                    lower = "(" + page[-1][0].decode()
        except RedisError as exc:
            raise QueueError(f"cannot read the audit log {self.key}: {exc}") from exc
        return select(entries, query, self.oldest_kept_ms())

    async def close(self) -> None:
        await self._broker.close()
