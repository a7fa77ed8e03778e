"""How the CLI shows things: jobs and dead letters as JSON-ready dicts, and plain text tables."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
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


# --- times ------------------------------------------------------------------------------------------


def iso_time(ms: int | None) -> str:
    """Epoch milliseconds as ISO 8601 UTC to the second (``2026-12-03T16:40:00Z``); ``-`` for none."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def relative_time(ms: int, now_ms: int) -> str:
    """How long ago (``3m ago``) or until (``in 2h``) ``ms`` is, in the largest whole unit."""
    delta_s = (now_ms - ms) / 1000
    span = abs(delta_s)
    for unit, seconds in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if span >= seconds:
            text = f"{int(span // seconds)}{unit}"
            break
    else:
        if span < 1:
            return "now"
        text = f"{int(span)}s"
    return f"{text} ago" if delta_s >= 0 else f"in {text}"


def when(ms: int | None, now_ms: int) -> str:
    """A table cell for a time: ISO 8601 and relative, ``2026-12-03T16:40:00Z (3m ago)``."""
    if ms is None:
        return "-"
    return f"{iso_time(ms)} ({relative_time(ms, now_ms)})"


# --- one JSON shape per kind of output ------------------------------------------------------------


def action_dict(
    action: str, queue: str, *, count: int | None = None, job_id: str | None = None
) -> dict[str, Any]:
    """What an operator action did: ``{"action", "queue", "job_id", "count"}`` (docs/cli.md)."""
    return {"action": action, "queue": queue, "job_id": job_id, "count": count}


def queue_stats_dict(queue: str, stats: QueueStats) -> dict[str, Any]:
    return {"queue": queue, **stats_dict(stats)}


def error_line(message: str, exit_code: int, *, as_json: bool) -> str:
    """The one stderr line of a failed command: text, or ``{"error", "exit_code"}`` with ``--json``."""
    text = " ".join(message.split())  # one line, whatever the cause carried
    if as_json:
        return json.dumps({"error": text, "exit_code": exit_code}, ensure_ascii=False)
    return f"backbone: error: {text}"
