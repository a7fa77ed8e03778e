"""``JsonLinesSink``: append one JSON object per line to a text stream or a file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO


class JsonLinesSink:
    """Writes are serialised by a lock; a file is opened in append mode for each line, so several
    processes can share one file (each line is one ``write`` call) and nothing stays open."""

    def __init__(self, target: TextIO | Path) -> None:
        self._target = target
        self._lock = asyncio.Lock()

    @property
    def path(self) -> Path | None:
        return self._target if isinstance(self._target, Path) else None

    async def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record``. Raises ``OSError`` when the file cannot be written."""
        line = (
            json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str) + "\n"
        )
        async with self._lock:
            if isinstance(self._target, Path):
                await asyncio.to_thread(_append, self._target, line)
            else:
                self._target.write(line)
                self._target.flush()

    async def read(self) -> list[dict[str, Any]]:
        """Every complete record of a file sink (a torn last line is skipped); [] for a stream."""
        if not isinstance(self._target, Path):
            return []
        return await asyncio.to_thread(_read, self._target)


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records
