"""Entry point for tools that open a backend by URL (``--factory adapters.rabbitmq.factory:open_backend``)."""

from __future__ import annotations

from adapters.rabbitmq.broker import RabbitMQBroker
from application.jobs.job_factory import JobFactory
from application.queue_backend import QueueBackend
from application.replication.engine import ReplicationEngine
from application.replication.replicated_queue import ReplicatedQueue


class StandaloneQueue(ReplicatedQueue):
    """A queue handle that owns its broker: closing the handle closes the connection too."""

    def __init__(self, factory: JobFactory, engine: ReplicationEngine, broker: RabbitMQBroker) -> None:
        super().__init__(factory, engine)
        self._broker = broker

    async def close(self) -> None:
        await super().close()
        await self._broker.close()


async def open_backend(url: str, factory: JobFactory) -> QueueBackend:
    """A connected handle on ``factory.queue`` with its own connection (default settings)."""
    broker = RabbitMQBroker(url)
    try:
        handle = await broker.open_queue(factory)
    except BaseException:
        await broker.close()
        raise
    return StandaloneQueue(factory, handle.engine, broker)
