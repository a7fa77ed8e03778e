"""``Broker``: one connection configuration to one broker, opening queue handles on it.

The DI container picks the ``Broker`` implementation from the broker URL (``memory://``,
``redis://``, ``amqp://``, ``kafka://``) and opens every configured queue through it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from application.jobs.job_factory import JobFactory
from application.queue_backend import QueueBackend


class Broker(ABC):
    @property
    @abstractmethod
    def url(self) -> str:
        """The broker URL with any password replaced by ``***`` (safe to log)."""

    @abstractmethod
    async def open_queue(self, factory: JobFactory) -> QueueBackend:
        """Connect (within the configured timeout) and return a handle for queue ``factory.queue``.

        ``factory`` carries the queue's job types, defaults and payload limit; the handle validates
        every ``add`` through it. Raises ``BrokerUnavailableError`` if the broker cannot be reached.
        """

    @abstractmethod
    async def close(self) -> None:
        """Close every handle and connection opened through this broker. Idempotent."""
