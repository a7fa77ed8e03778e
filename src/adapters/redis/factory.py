"""Entry point for tools that open a backend by URL (``--factory adapters.redis.factory:open_backend``)."""

from __future__ import annotations

from adapters.redis.broker import open_standalone_queue
from adapters.redis.settings import RedisSettings
from application.jobs.job_factory import JobFactory
from application.queue_backend import QueueBackend


async def open_backend(url: str, factory: JobFactory) -> QueueBackend:
    return await open_standalone_queue(RedisSettings(url=url), factory)
