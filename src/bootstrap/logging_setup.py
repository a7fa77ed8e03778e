"""Logging is configured here and nowhere else: a context filter, text or JSON-lines output.

Every record gets ``correlation_id`` (``domain.queue.metadata.current_correlation_id``) and
``job_id`` (``application.worker.context.current_job_id``), ``-`` when outside a job.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, TextIO

from application.worker.context import current_job_id
from bootstrap.settings import LogFormat, LogSettings
from domain.queue.metadata import current_correlation_id

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [cid=%(correlation_id)s job=%(job_id)s] %(message)s"
HANDLER_NAME = "backbone-root"
# The broker drivers log every failed connect in their own words (pika: a dozen ERROR lines with a
# traceback per attempt). The adapters report the same failure once, as a BrokerUnavailableError
# naming the cause, so the drivers' own records are shown only when the level is DEBUG.
DRIVER_LOGGERS = ("pika", "aiokafka")


class ContextFilter(logging.Filter):
    """Adds the running job's ``correlation_id`` and ``job_id`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            record.correlation_id = current_correlation_id.get() or "-"
        if not hasattr(record, "job_id"):
            record.job_id = current_job_id.get() or "-"
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, correlation_id, job_id (+ exc)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "ms": int(record.msecs),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", "-"),
            "job_id": getattr(record, "job_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(settings: LogSettings, stream: TextIO | None = None) -> logging.Handler:
    """Install one handler on the root logger (replacing a previous one of ours). Idempotent."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == HANDLER_NAME:
            root.removeHandler(existing)
            existing.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(ContextFilter())
    if settings.format is LogFormat.JSON:
        handler.setFormatter(JsonLinesFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    level = settings.level.upper()
    root.setLevel(level)
    for name in DRIVER_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.CRITICAL)
    return handler
