"""``MemoryAuditStore``: the audit log of ``memory://``, kept in this process (ADR 0024)."""

from __future__ import annotations

from application.audit import DEFAULT_RETENTION_MS, AuditEntry, AuditQuery, AuditStore, select
from application.clock import Clock, system_clock


class MemoryAuditStore(AuditStore):
    """Entries in a list, oldest first; each write drops those older than the retention."""

    def __init__(self, *, retention_ms: int = DEFAULT_RETENTION_MS, clock: Clock = system_clock) -> None:
        self.retention_ms = retention_ms
        self.clock = clock
        self._entries: list[AuditEntry] = []

    async def append(self, entry: AuditEntry) -> None:
        oldest = self.oldest_kept_ms()
        self._entries = [e for e in self._entries if e.time_ms >= oldest]
        self._entries.append(entry)

    async def read(self, query: AuditQuery) -> list[AuditEntry]:
        return select(self._entries, query, self.oldest_kept_ms())

    def stored(self) -> list[AuditEntry]:
        """Every entry held now, trimmed or not by a read (what a test inspects)."""
        return list(self._entries)

    async def close(self) -> None:
        return None
