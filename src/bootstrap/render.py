"""How the CLI shows things: jobs and dead letters as JSON-ready dicts, and plain text tables."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from application.encryption.envelope import is_sealed, not_loaded_text
from domain.queue.job import DeadLetter, Job, QueueStats


def shown_data(data: Any) -> Any:
    """A payload as a reader shows it: sealed data it could not open says so, never the ciphertext
    (ADR 0023: the reader's handle opens what its keys can)."""
    return not_loaded_text(data) if is_sealed(data) else data


def _plain(value: Any) -> Any:
    """Dataclasses, enums, tuples and bytes as JSON-compatible values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    return value


def job_dict(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "queue": job.queue,
        "name": job.name,
        "state": job.state.value,
        "data": shown_data(job.data),
        "priority": job.priority,
        "attempts_started": job.attempts_started,
        "attempts_made": job.attempts_made,
        "created_at": job.created_at,
        "due_at": job.due_at,
        "processed_on": job.processed_on,
        "finished_on": job.finished_on,
        "progress": _plain(job.progress),
        "return_value": job.return_value,
        "failed_reason": job.failed_reason,
        "deduplicated": job.deduplicated,
        "options": _plain(job.options),
        "metadata": _plain(job.metadata),
    }


def dead_letter_dict(letter: DeadLetter) -> dict[str, Any]:
    shown: dict[str, Any] = _plain(letter)
    shown["data"] = shown_data(letter.data)
    return shown


def stats_dict(stats: QueueStats) -> dict[str, Any]:
    return {
        "waiting": stats.waiting,
        "delayed": stats.delayed,
        "active": stats.active,
        "completed": stats.completed,
        "failed": stats.failed,
        "paused": stats.paused,
    }


def to_json(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, indent=2, default=str)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A left-aligned text table; numbers right-aligned."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(isinstance(row[i], int | float) and not isinstance(row[i], bool) for row in rows) and bool(rows)
        for i in range(len(headers))
    ]
    lines = []
    for index, row in enumerate(cells):
        parts = [cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(parts).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
