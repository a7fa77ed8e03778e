"""The ``backbone`` command: the layout check (``backbone/__init__``) runs, then ``bootstrap.cli``."""

from __future__ import annotations

from collections.abc import Sequence

from bootstrap.cli import main as _main


def main(argv: Sequence[str] | None = None) -> int:
    return _main(argv)
