"""``JsonLinesAuditSink``: audit entries appended to a file, one JSON object a line (ADR 0024).

A mirror of the broker's audit log for log shippers; each entry is written and flushed (and
``fsync``ed) before the admin action returns. A file that cannot be written is an
``AuditWriteError`` naming the path.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from application.audit import AuditEntry, AuditSink, AuditWriteError


class JsonLinesAuditSink(AuditSink):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = asyncio.Lock()

    async def append(self, entry: AuditEntry) -> None:
        line = entry.to_json() + "\n"
        async with self._lock:
            try:
                await asyncio.to_thread(self._write, line)
            except OSError as exc:
                raise AuditWriteError(
                    f"cannot write {self.path}: {exc.strerror or type(exc).__name__}"
                ) from exc

    def _write(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())

    async def close(self) -> None:
        return None
