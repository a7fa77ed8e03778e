"""What the demo shows while it runs: live progress per queue (``rich``, on a terminal), and where
the per-job log lines go (a log file named in the output, or the terminal with ``--verbose``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from bootstrap.logging_setup import HANDLER_NAME, TEXT_FORMAT, ContextFilter

REFRESH_S = 0.1


class _Counter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        self.count += 1
        return True


class JobLogs:
    """Where the log records went during the demo: ``path`` (None: the terminal) and how many."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._counter = _Counter()

    @property
    def lines(self) -> int:
        return self._counter.count


def default_log_file() -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    return Path(tempfile.gettempdir()) / f"backbone-demo-{stamp}.log"


@contextlib.contextmanager
def job_logs(verbose: bool, log_file: str | None) -> Iterator[JobLogs]:
    """Unless ``verbose``: every log record goes to ``log_file`` instead of the terminal."""
    if verbose:
        yield JobLogs(None)
        return
    path = Path(log_file) if log_file else default_log_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    logs = JobLogs(path)
    root = logging.getLogger()
    console = [h for h in root.handlers if h.get_name() == HANDLER_NAME]
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(console[0].formatter if console else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    handler.addFilter(logs._counter)
    for existing in console:
        root.removeHandler(existing)
    root.addHandler(handler)
    try:
        yield logs
    finally:
        root.removeHandler(handler)
        handler.close()
        for existing in console:
            root.addHandler(existing)


Row = Callable[[], tuple[int, int, int, int]]  # (jobs so far, finished, retries, dead-lettered)


@contextlib.asynccontextmanager
async def live_progress(rows: dict[str, Row], *, enabled: bool) -> AsyncIterator[None]:
    """One bar per queue (finished of enqueued, retries, dead letters), refreshed while it runs.

    Shown only on a terminal (stdout is one) and when enabled; transient: the summary follows."""
    if not (enabled and sys.stdout.isatty()):
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns: list[Any] = [
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("retries {task.fields[retries]:>4}  dead-lettered {task.fields[dead]:>3}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=Console(), transient=True) as bar:
        tasks = {name: bar.add_task(name, total=0, retries=0, dead=0) for name in rows}

        def refresh() -> None:
            for name, row in rows.items():
                jobs, finished, retries, dead = row()
                bar.update(tasks[name], total=max(jobs, 1), completed=finished, retries=retries, dead=dead)

        async def keep_refreshing() -> None:
            while True:
                refresh()
                await asyncio.sleep(REFRESH_S)

        task = asyncio.create_task(keep_refreshing(), name="demo-progress")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            refresh()
