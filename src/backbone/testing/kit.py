"""``BackboneTestKit``: a team's modules on the real memory broker, with a clock the test moves.

    kit = BackboneTestKit([MY_MODULE])
    await kit.app.service(OrderService).place(order)
    await kit.run_until_idle()                 # every handler ran, retries and delays included
    job = await kit.queue("orders").get_job(job_id)
    await kit.close()

Jobs run only inside ``run_until_idle`` / ``run_due``: between two calls a test sees exactly what
its own code enqueued. Time is ``kit.clock`` (a ``ManualClock``) for the broker, the modules'
``ctx.clock`` and every due time, lease and retention; it moves only when the test or
``run_until_idle`` moves it, so a retry with a backoff of an hour runs without sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, TypeVar

from dependency_injector import providers

from adapters.memory import MemoryBroker
from application.clock import ManualClock
from bootstrap.app import Backbone
from domain.queue.job import DeadLetter, Job, QueueStats
from domain.queue.module import DomainModule
from domain.queue.port import IGenericQueue

T = TypeVar("T")

IDLE_POLL_S = 0.005
# Short claim waits, so a job made due by moving the clock is claimed at once; no shutdown grace:
# a drain ends with nothing active, except after its timeout (a hung handler is cancelled then).
DRAIN_WORKER_OPTIONS: dict[str, Any] = {"block_ms": 10, "claim_error_backoff_ms": 10, "shutdown_grace_ms": 0}


class QueuesStillBusyError(AssertionError):
    """``run_until_idle`` ran out of time: names each busy queue and what it still holds."""


class BackboneTestKit:
    """The modules on ``memory://`` in this process, driven by a manual clock."""

    def __init__(
        self,
        modules: Sequence[DomainModule],
        *,
        clock: ManualClock | None = None,
        **settings: Any,
    ) -> None:
        """``settings`` are settings sections, as for ``Backbone.open`` (``worker={...}``)."""
        self.clock = clock or ManualClock()
        self.app = Backbone.open("memory://", modules=modules, **settings)
        self.app.container.clock.override(providers.Object(self.clock))

    @property
    def broker(self) -> MemoryBroker:
        broker = self.app.container.broker()
        assert isinstance(broker, MemoryBroker)
        return broker

    def queue(self, name: str) -> IGenericQueue:
        return self.app.queue(name)

    def service(self, kind: type[T]) -> T:
        return self.app.service(kind)

    async def job(self, queue: str, job_id: str) -> Job:
        """The job ``job_id`` of ``queue``; ``AssertionError`` if the queue does not have it."""
        job = await self.queue(queue).get_job(job_id)
        if job is None:
            raise AssertionError(f"queue {queue!r} has no job {job_id!r}")
        return job

    async def dead_letters(self, queue: str) -> list[DeadLetter]:
        return list(await self.queue(queue).list_dead_letters())

    async def run_until_idle(self, *queues: str, timeout_s: float = 10.0) -> None:
        """Run the handlers of ``queues`` (default: every queue a module handles) until none has a
        job waiting, delayed or active. When only delayed jobs are left (a ``delay``, a retry's
        backoff), the clock is moved forward to the earliest one's due time, never further.
        Raises ``QueuesStillBusyError`` after ``timeout_s`` of real time."""
        await self._drain(queues, timeout_s, fast_forward=True)

    async def run_due(self, *queues: str, timeout_s: float = 10.0) -> None:
        """Run the handlers until nothing is waiting or active, without moving the clock: jobs
        due later stay delayed (``kit.clock.advance(ms)`` and call again)."""
        await self._drain(queues, timeout_s, fast_forward=False)

    async def close(self) -> None:
        await self.app.close()

    async def __aenter__(self) -> BackboneTestKit:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- draining ------------------------------------------------------------------------------

    async def _drain(self, queues: Sequence[str], timeout_s: float, *, fast_forward: bool) -> None:
        names = list(queues) or self.app.handled_queues()
        deadline = time.monotonic() + timeout_s
        async with self.app.workers(*names, **DRAIN_WORKER_OPTIONS):
            while True:
                busy = await self._busy(names, fast_forward)
                if not busy:
                    await asyncio.sleep(IDLE_POLL_S)  # a second look: a handler's own enqueue lands
                    busy = await self._busy(names, fast_forward)
                    if not busy:
                        return
                only_delayed = not any(stats.waiting or stats.active for stats in busy.values())
                if fast_forward and only_delayed and self._step_clock(names):
                    continue  # only delayed jobs were left: time moved to the first one's due time
                if time.monotonic() > deadline:
                    held = "; ".join(
                        f"{name}: waiting={stats.waiting} delayed={stats.delayed} active={stats.active}"
                        for name, stats in busy.items()
                    )
                    raise QueuesStillBusyError(f"queues still busy after {timeout_s} s: {held}")
                await asyncio.sleep(IDLE_POLL_S)

    async def _busy(self, names: Sequence[str], count_delayed: bool) -> dict[str, QueueStats]:
        busy: dict[str, QueueStats] = {}
        for name in names:
            stats = await self.queue(name).get_stats()
            if stats.waiting or stats.active or (count_delayed and stats.delayed):
                busy[name] = stats
        return busy

    def _step_clock(self, names: Sequence[str]) -> bool:
        """Move the clock to the earliest due time in ``names``; whether it moved."""
        due = [at for name in names if (at := self.broker.next_wake_at(name)) is not None]
        if not due or min(due) <= self.clock.now_ms:
            return False
        self.clock.advance(min(due) - self.clock.now_ms)
        return True
