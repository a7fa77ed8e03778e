"""Entry point for tools that open one queue from a URL (the contract suite's worker process)."""

from __future__ import annotations

from adapters.kafka.broker import KafkaBroker
from application.jobs.job_factory import JobFactory
from application.queue_backend import QueueBackend


async def open_backend(url: str, factory: JobFactory) -> QueueBackend:
    """A queue handle owning its broker connection: closing the handle closes the connection."""
    broker = KafkaBroker(url)
    try:
        queue = await broker.open_queue(factory)
    except BaseException:
        await broker.close()
        raise
    queue.on_close(broker.close)
    return queue
