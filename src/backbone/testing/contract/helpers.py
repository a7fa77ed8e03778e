"""Building blocks of the contract suite: job types, in-process workers, polling with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from application.hooks import Hook
from application.jobs.job_types import JobTypes
from application.queue_backend import QueueBackend
from application.worker import HandlerRegistry, Worker, WorkerOptions
from domain.queue.context import Handler, JobContext
from domain.queue.job import Job, JobState
from domain.queue.options import Backoff, BackoffType, KeepJobs, QueueDefaults

ECHO = "contract.echo.v1"
MODEL = "contract.model.v1"
FAIL = "contract.fail.v1"
SLOW = "contract.slow.v1"
OTHER = "contract.other.v1"

# Short leases and backoffs so reliability behaviours finish in seconds.
TEST_LEASE_MS = 1000
FAST_BACKOFF = Backoff(type=BackoffType.FIXED, delay=50, max_delay=None, jitter=0.0)


class Payment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    payment_id: str
    amount_minor: int
    note: str = ""


def contract_job_types() -> JobTypes:
    job_types = JobTypes()
    for name in (ECHO, FAIL, SLOW, OTHER):
        job_types.register(name)
    job_types.register(MODEL, Payment)
    return job_types


def fast_defaults(**overrides: Any) -> QueueDefaults:
    # Completed jobs are kept long enough for a behaviour to look at every one it ran.
    values: dict[str, Any] = {
        "attempts": 3,
        "backoff": FAST_BACKOFF,
        "timeout": 30_000,
        "remove_on_complete": KeepJobs(count=1000),
    }
    values.update(overrides)
    return QueueDefaults(**values)


def unique_queue_name(prefix: str = "ct") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def eventually(
    probe: Callable[[], Awaitable[Any]],
    *,
    timeout_s: float = 10.0,
    interval_s: float = 0.02,
    message: str = "condition",
) -> Any:
    """Poll ``probe`` until it returns something truthy; fail with ``message`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {message}; last value: {last!r}")


async def wait_for_state(queue: QueueBackend, job_id: str, state: JobState, timeout_s: float = 10.0) -> Job:
    async def probe() -> Job | None:
        job = await queue.get_job(job_id)
        return job if job is not None and job.state is state else None

    job: Job = await eventually(probe, timeout_s=timeout_s, message=f"job {job_id} to be {state.value}")
    return job


def recording_handler(log: list[tuple[str, Any]], result: Any = None) -> Handler:
    async def handle(payload: Any, ctx: JobContext) -> Any:
        log.append((ctx.job.id, payload))
        return result if result is not None else {"seen": ctx.job.id}

    return handle


@contextlib.asynccontextmanager
async def running_worker(
    queue: QueueBackend,
    handlers: Mapping[str, Handler],
    job_types: JobTypes | None = None,
    hooks: tuple[Hook, ...] = (),
    encryption: Any = None,
    **options: Any,
) -> AsyncIterator[Worker]:
    """An in-process worker for the duration of the block; stopped gracefully afterwards."""
    options.setdefault("lease_ms", TEST_LEASE_MS)
    options.setdefault("block_ms", 100)
    options.setdefault("shutdown_grace_ms", 5000)
    registry = HandlerRegistry(job_types or contract_job_types(), handlers)
    worker = Worker(queue, registry, WorkerOptions(**options), hooks=hooks, encryption=encryption)
    task = asyncio.create_task(worker.run())
    await worker.wait_started()
    try:
        yield worker
    finally:
        worker.request_stop()
        await asyncio.wait_for(task, 30)
