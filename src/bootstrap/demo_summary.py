"""The demo's outcome: per-queue rows and the printed summary table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bootstrap.cli_common import out
from bootstrap.render import table


@dataclass(slots=True)
class QueueSummary:
    queue: str
    jobs: int = 0
    completed: int = 0
    retries: int = 0
    dead_lettered: int = 0
    delayed: int = 0
    drained_after_s: float | None = None


@dataclass(slots=True)
class DemoSummary:
    payments: int
    replayed: int
    high_value: int
    queues: dict[str, QueueSummary] = field(default_factory=dict)
    # None: the port writes to a file or a webhook, so the demo cannot count what it delivered
    emails_delivered: int | None = None
    alerts_posted: int | None = None
    settlements_recorded: int | None = None
    deduplicated: int = 0
    dead_letter_reasons: list[str] = field(default_factory=list)
    dead_letter_kinds: dict[str, int] = field(default_factory=dict)
    total_s: float = 0.0
    drained: bool = False


def refused_for_good(reason: str) -> bool:
    """The worker's reason starts with the error's class name: permanent failures vs the rest."""
    return reason.split(":", 1)[0].endswith(("PermanentError", "RejectedError"))


def print_summary(summary: DemoSummary) -> None:
    rows = [
        (
            row.queue,
            row.jobs,
            row.completed,
            row.retries,
            row.dead_lettered,
            row.delayed,
            "-" if row.drained_after_s is None else f"{row.drained_after_s:.2f}",
        )
        for row in summary.queues.values()
    ]
    out("")
    out(table(("queue", "jobs", "completed", "retries", "dead-lettered", "delayed", "drained after s"), rows))
    out("")
    out(
        f"payments {summary.payments} (+{summary.replayed} replayed: "
        f"{summary.deduplicated} jobs deduplicated, none enqueued twice); "
        f"high value -> Slack alerts: {summary.high_value}"
    )
    delivered = [
        f"{count} {what}"
        for count, what in (
            (summary.emails_delivered, "emails"),
            (summary.alerts_posted, "Slack alerts"),
            (summary.settlements_recorded, "settlements recorded in the ledger"),
        )
        if count is not None
    ]
    note = "" if len(delivered) == 3 else " (outputs written to files or a webhook are not counted here)"
    out(f"delivered: {', '.join(delivered) or '-'}{note}")
    if summary.dead_letter_kinds:
        kinds = ", ".join(f"{count} {kind}" for kind, count in summary.dead_letter_kinds.items())
        out(f"email dead letters: {kinds}; for example:")
    for reason in summary.dead_letter_reasons:
        out(f"  {reason}")
    state = "all queues drained" if summary.drained else "NOT drained (stopped by a signal or timed out)"
    out(f"{state}; total time {summary.total_s:.2f} s")


def print_summary_json(summary: DemoSummary, log_file: Path | None, log_lines: int) -> None:
    """The summary as one JSON document (``backbone demo --json``)."""
    document = {
        **asdict(summary),
        "queues": [asdict(row) for row in summary.queues.values()],
        "log_file": None if log_file is None else str(log_file),
        "log_lines": log_lines,
    }
    out(json.dumps(document, indent=2))
