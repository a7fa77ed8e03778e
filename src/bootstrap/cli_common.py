"""What every CLI command module shares: exit codes, the parser class, output, the queue check.

Light on purpose (no container, no adapter, no pydantic at import): ``bootstrap.cli`` imports
every command module to build the parser, and ``backbone --version`` must stay quick.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from bootstrap.container import Container
    from bootstrap.queues import QueueHandle, QueueHandles

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BROKER = 3

DRIVER_LOGGERS = ("pika", "aiokafka", "redis")
DRIVER_WORDS_MAX_CHARS = 160


class UsageError(Exception):
    """argparse refused the command line."""


class CliParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


def out(text: str) -> None:
    print(text, file=sys.stdout, flush=True)


def handles(container: Container) -> QueueHandles:
    found: QueueHandles = container.queues()
    return found


class UnknownQueueError(Exception):
    """A queue name that is neither configured nor on the broker (exit 2, the known names listed)."""


async def known_queue(container: Container, name: str) -> QueueHandle:
    """The handle of queue ``name`` if a module configures it or it exists on the broker.

    Otherwise a ``SettingsError`` saying so and listing the known queues (configured and on the
    broker): a typo is an error, not a row of zeros.
    """
    from bootstrap.settings import SettingsError

    queues = handles(container)
    if name in queues.topology:
        return queues.handle(name)
    on_broker = await queues.broker.list_queues()
    if name in on_broker:
        return queues.handle(name)
    known = sorted(set(queues.topology.names()) | set(on_broker))
    raise SettingsError("queue", f"unknown queue {name!r} (known: {', '.join(known) or 'none'})")


_CREDENTIALS = re.compile(r"(://[^:/@\s]*):[^@\s]*@")


class DriverNoise(logging.Handler):
    """Keeps the broker drivers' own log records (pika logs a dozen lines per failed connect) out
    of the terminal; the last one's words are folded into the command's one error line."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: str | None = None
        self._loggers: list[tuple[logging.Logger, int, bool]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.last = " ".join(record.getMessage().split())
        except Exception:  # a driver's malformed record: nothing to fold
            self.last = None

    def capture(self) -> None:
        for name in DRIVER_LOGGERS:
            logger = logging.getLogger(name)
            self._loggers.append((logger, logger.level, logger.propagate))
            logger.setLevel(logging.WARNING)
            logger.propagate = False
            logger.addHandler(self)

    def restore(self) -> None:
        for logger, level, propagate in self._loggers:
            logger.removeHandler(self)
            logger.setLevel(level)
            logger.propagate = propagate
        self._loggers.clear()

    def folded_into(self, message: str) -> str:
        if not self.last or self.last in message:
            return message
        words = _CREDENTIALS.sub(r"\1:***@", self.last)
        if len(words) > DRIVER_WORDS_MAX_CHARS:
            words = words[: DRIVER_WORDS_MAX_CHARS - 3] + "..."
        return f"{message} (driver: {words})"
