"""Fixtures of the bootstrap tests: a clean environment and no leftover log handler."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from bootstrap.logging_setup import DRIVER_LOGGERS, HANDLER_NAME


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("BACKBONE_"):
            monkeypatch.delenv(name)
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)
    for name in DRIVER_LOGGERS:  # configure_logging quiets them: later tests get them back as they were
        logging.getLogger(name).setLevel(logging.NOTSET)
    for handler in list(root.handlers):
        if handler.get_name() == HANDLER_NAME:
            root.removeHandler(handler)
            handler.close()
