"""``MemoryBroker``: the embedded default broker (``memory://``). State lives in this process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from adapters.memory.queue import MemoryQueue, SharedQueueState
from application.broker import COMMON_OPTIONS, Broker, BrokerOption, check_options
from application.clock import Clock, system_clock
from application.jobs.job_factory import JobFactory
from application.state_machine.machine import QueueStateMachine
from domain.queue.naming import validate_queue_name


@dataclass(slots=True)
class _BrokerState:
    closed: bool = False


class MemoryBroker(Broker):
    schemes = ("memory",)

    def __init__(self, clock: Clock = system_clock) -> None:
        self.clock = clock
        self._queues: dict[str, SharedQueueState] = {}
        self._state = _BrokerState()

    @classmethod
    def from_url(
        cls, url: str, *, clock: Clock = system_clock, options: Mapping[str, BrokerOption] | None = None
    ) -> Self:
        """``memory://`` has no connection: the shared connection options do not apply and are
        ignored (a network broker's settings keep working with ``--broker memory://``); any other
        option is refused."""
        given = options or {}
        check_options("memory", {name: given[name] for name in given if name not in COMMON_OPTIONS}, known=())
        return cls(clock)

    @property
    def url(self) -> str:
        return "memory://"

    async def open_queue(self, factory: JobFactory) -> MemoryQueue:
        return self.queue(factory)

    def queue(self, factory: JobFactory) -> MemoryQueue:
        """Synchronous variant of ``open_queue`` (nothing to connect to)."""
        name = validate_queue_name(factory.queue)
        shared = self._queues.get(name)
        if shared is None:
            shared = SharedQueueState(QueueStateMachine(queue=name))
            self._queues[name] = shared
        return MemoryQueue(shared, factory, self.clock, self._state)

    def queue_names(self) -> list[str]:
        return sorted(self._queues)

    async def list_queues(self) -> list[str]:
        return self.queue_names()

    def next_wake_at(self, queue: str) -> int | None:
        """When, on this broker's clock, something next falls due in ``queue`` (a delayed job or a
        lease expiry); ``None`` if nothing will (the test kit steps a manual clock to it)."""
        shared = self._queues.get(queue)
        return None if shared is None else shared.machine.next_wake_at()

    async def close(self) -> None:
        self._state.closed = True
        for shared in self._queues.values():
            shared.wake()

    def reopen(self) -> None:
        """Bring a closed broker back (state kept), as a restarted broker with persistence would."""
        self._state.closed = False
