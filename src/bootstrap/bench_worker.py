"""The worker process of the benchmarks: a worker in its own process, timed from its spawn.

Run as ``python -m bootstrap.bench_worker QUEUE JOBS [TIMEOUT_S] [--concurrency C] [--prefetch P]
[--block-ms B] [--io URL]`` with the bench's environment (``BACKBONE_BROKER__URL`` set to its
broker). It opens QUEUE, starts one worker, prints ``ready`` once the worker waits for jobs, and
runs JOBS jobs (``bench.noop.v1``). With ``--io URL`` each handler awaits one round trip of its own
before it returns: ``redis://...`` one ``PING`` on the handler's own Redis client (not the queue's
connections), ``tcp://HOST:PORT`` one line echoed by a server (``backbone bench`` runs one for
brokers other than Redis). After the last handler it waits until the queue shows nothing waiting,
delayed or active (the last completion is stored), prints one JSON object and exits; after
``TIMEOUT_S`` it exits with status 1.

The JSON (wall-clock times are ``time.time_ns()``, comparable with the parent's on one machine):
``imported_ns`` (this module's imports done), ``ready_ns``, ``first_done_ns`` (the first handler
returned), ``last_done_ns`` (the last handler returned), ``drained_ns`` (the queue drained),
``latency_ms`` (for each job whose payload carries ``t_ns``: handler start minus ``t_ns``), the
worker's ``succeeded``/``failed`` counts, ``cpu_s`` (the process's CPU time so far, with imports)
and, from the command line, ``handler_io_setup_s`` (opening the handler's own connections, inside
the time to ``ready_ns``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobType, JobTypes
from application.queue_backend import QueueBackend
from application.worker import HandlerRegistry, Worker, WorkerOptions
from bootstrap.brokers import create_broker
from bootstrap.settings import load_settings
from domain.queue.context import JobContext

IMPORTED_NS = time.time_ns()
NOOP_JOB = "bench.noop.v1"  # the job type of every bench phase
WORKER_READY = "ready"  # the line this process prints once its worker waits for jobs
DRAIN_POLL_S = 0.002

RoundTrip = Callable[[], Awaitable[None]]


class EchoRoundTrips:
    """One line sent to a ``tcp://`` echo server and read back per call, on a pool of connections."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._all: list[asyncio.StreamWriter] = []

    async def __call__(self) -> None:
        if self._idle:
            reader, writer = self._idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self._all.append(writer)
        writer.write(b"ping\n")
        if await reader.readline() != b"ping\n":
            raise ConnectionError("the echo server did not answer")
        self._idle.append((reader, writer))

    async def close(self) -> None:
        for writer in self._all:
            writer.close()


async def round_trips(
    url: str | None, connections: int = 1
) -> tuple[RoundTrip | None, Callable[[], Awaitable[None]]]:
    """The handler's own round trip for ``url`` and how to close it.

    ``connections`` are opened first (one per concurrent handler), as a running service's own
    client would have them: the worker's timings do not include the handler client's set-up.
    """

    async def nothing() -> None:
        return None

    if url is None:
        return None, nothing
    if url.startswith(("redis://", "rediss://")):
        import redis.asyncio as aioredis  # only when asked: the worker itself imports what its broker needs

        client = aioredis.Redis.from_url(url)

        async def ping() -> None:
            await client.ping()

        await asyncio.gather(*(ping() for _ in range(connections)))
        return ping, client.aclose
    if url.startswith("tcp://"):
        host, _, port = url.removeprefix("tcp://").rpartition(":")
        echo = EchoRoundTrips(host, int(port))
        await asyncio.gather(*(echo() for _ in range(connections)))
        return echo, echo.close
    raise ValueError(f"--io: expected redis://... or tcp://HOST:PORT, got {url!r}")


async def run(
    queue_name: str,
    jobs: int,
    timeout_s: float,
    options: WorkerOptions,
    io_url: str | None = None,
) -> dict[str, Any]:
    settings = load_settings()
    broker = create_broker(settings.broker)
    io_started_ns = time.time_ns()
    round_trip, close_round_trips = await round_trips(io_url, options.concurrency)
    io_s = (time.time_ns() - io_started_ns) / 1e9  # opening the handler's own connections
    try:
        queue = await broker.open_queue(JobFactory(queue_name, JobTypes([JobType(NOOP_JOB)])))
        try:
            report = await work(queue, jobs, timeout_s, options, round_trip, announce=True)
            return {**report, "handler_io_setup_s": round(io_s, 4)}
        finally:
            await queue.close()
    finally:
        await broker.close()
        await close_round_trips()


async def work(
    queue: QueueBackend,
    jobs: int,
    timeout_s: float,
    options: WorkerOptions,
    round_trip: RoundTrip | None,
    *,
    announce: bool = False,
) -> dict[str, Any]:
    """Run one worker on ``queue`` until ``jobs`` jobs are done and the queue is drained.

    ``announce``: print ``ready`` on stdout once the worker waits (for the parent process).
    """
    job_types = JobTypes([JobType(NOOP_JOB)])
    latency_ms: list[float] = []
    first_done_ns = last_done_ns = 0
    handled = 0
    all_handled = asyncio.Event()

    async def handle(payload: Any, ctx: JobContext) -> None:
        nonlocal handled, first_done_ns, last_done_ns
        if "t_ns" in payload:
            latency_ms.append((time.time_ns() - int(payload["t_ns"])) / 1e6)
        if round_trip is not None:
            await round_trip()
        handled += 1
        if handled == 1:
            first_done_ns = time.time_ns()
        if handled >= jobs:
            last_done_ns = time.time_ns()
            all_handled.set()

    worker = Worker(queue, HandlerRegistry(job_types, {NOOP_JOB: handle}), options)
    task = asyncio.create_task(worker.run())
    await worker.wait_started()
    ready_ns = time.time_ns()
    if announce:
        print(WORKER_READY, flush=True)
    try:
        async with asyncio.timeout(timeout_s):
            await all_handled.wait()
            while True:
                stats = await queue.get_stats()
                if stats.waiting == 0 and stats.active == 0 and stats.delayed == 0:
                    break
                await asyncio.sleep(DRAIN_POLL_S)
        drained_ns = time.time_ns()
    finally:
        await worker.stop()
        await task
    return {
        "imported_ns": IMPORTED_NS,
        "ready_ns": ready_ns,
        "first_done_ns": first_done_ns,
        "last_done_ns": last_done_ns,
        "drained_ns": drained_ns,
        "latency_ms": latency_ms,
        "succeeded": worker.metrics.succeeded,
        "failed": worker.metrics.failed,
        "cpu_s": round(time.process_time(), 4),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bootstrap.bench_worker")
    parser.add_argument("queue")
    parser.add_argument("jobs", type=int)
    parser.add_argument("timeout_s", type=float, nargs="?", default=600.0)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--prefetch", type=int, default=0)
    parser.add_argument("--block-ms", type=int, default=1000)
    parser.add_argument("--io", metavar="URL", help="each handler awaits one round trip to URL")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    options = WorkerOptions(concurrency=args.concurrency, prefetch=args.prefetch, block_ms=args.block_ms)
    try:
        result = asyncio.run(run(args.queue, args.jobs, args.timeout_s, options, args.io))
    except TimeoutError:
        print(f"bench worker: not every job was done within {args.timeout_s} s", file=sys.stderr)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
