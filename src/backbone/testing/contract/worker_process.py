"""A worker in its own OS process, for the contract suite's multi-process behaviours.

    python -m backbone.testing.contract.worker_process --url redis://127.0.0.1:6400/0 --queue q \
        --names contract.echo.v1 --behaviour record

The broker is built the way the CLI builds it (``bootstrap.brokers.create_broker`` with the
default settings for that URL), so its defaults and key prefix are the application's.
Prints ``READY`` on stdout once it is claiming. SIGTERM stops it gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.worker import HandlerRegistry, Worker, WorkerOptions
from bootstrap.brokers import create_broker
from bootstrap.settings import BrokerSettings
from domain.queue.context import JobContext


def make_handler(behaviour: str) -> Callable[[Any, JobContext], Awaitable[Any]]:
    async def record(data: Any, ctx: JobContext) -> dict[str, int]:
        sleep_ms = data.get("sleep_ms", 0) if isinstance(data, dict) else 0
        if sleep_ms:
            await asyncio.sleep(sleep_ms / 1000)
        return {"pid": os.getpid()}

    async def suicide(data: Any, ctx: JobContext) -> dict[str, int]:
        if isinstance(data, dict) and (data.get("always") or data.get("kill_pid") == os.getpid()):
            os.kill(os.getpid(), signal.SIGKILL)
        return await record(data, ctx)

    handlers = {"record": record, "suicide": suicide}
    if behaviour not in handlers:
        raise SystemExit(f"unknown behaviour {behaviour!r}")
    return handlers[behaviour]


async def serve(args: argparse.Namespace) -> None:
    job_types = JobTypes(strict=False)
    factory = JobFactory(args.queue, job_types)
    broker = create_broker(BrokerSettings(url=args.url))
    backend = await broker.open_queue(factory)
    handler = make_handler(args.behaviour)
    registry = HandlerRegistry(job_types, dict.fromkeys(args.names.split(","), handler))
    options = WorkerOptions(
        concurrency=args.concurrency, lease_ms=args.lease_ms, block_ms=200, shutdown_grace_ms=5000
    )
    worker = Worker(backend, registry, options)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, worker.request_stop)
    task = asyncio.create_task(worker.run())
    await worker.wait_started()
    print("READY", flush=True)
    try:
        await task
    finally:
        await broker.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--names", required=True)
    parser.add_argument("--behaviour", default="record")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--lease-ms", type=int, default=1000)
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
