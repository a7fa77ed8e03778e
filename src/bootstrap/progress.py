"""Progress of a long CLI operation (bulk reprocess, clean, purge, drain) with ``rich``, on stderr.

Shown only when stderr is a terminal and the output is not ``--json``: pipes, logs and tests see
nothing of it. ``rich`` is imported when a bar is actually shown.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Protocol


class Advance(Protocol):
    def __call__(self, done: int) -> None: ...


def _shown(enabled: bool) -> bool:
    return enabled and sys.stderr.isatty()


@contextlib.contextmanager
def progress(description: str, total: int | None, *, enabled: bool = True) -> Iterator[Advance]:
    """A bar for ``total`` items (a spinner when ``total`` is None); the caller reports ``done``."""
    if not _shown(enabled):
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(done: int) -> None:
            bar.update(task, completed=done)

        yield advance
