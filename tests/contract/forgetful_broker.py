"""A deliberately broken adapter: the memory broker, except that it forgets every job's priority.

Not a test module (no ``test_`` prefix): ``test_a_broken_adapter.py`` runs the shipped contract on
it in a pytest process of its own and reads the report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from adapters.memory import MemoryBroker, MemoryQueue
from application.jobs.job_factory import JobFactory
from backbone.testing.contract.memory_broker import MemoryBrokerUnderTest
from backbone.testing.contract.queue_contract import QueueContract
from backbone.testing.contract.support import BrokerUnderTest
from domain.queue.job import Job, NewJob
from domain.queue.options import JobOptions
from domain.queue.priority import HIGHEST_PRIORITY, LOWEST_PRIORITY, Priority


def _forget_priority(options: JobOptions | None) -> JobOptions | None:
    if options is None or not HIGHEST_PRIORITY <= options.priority <= LOWEST_PRIORITY:
        return options  # an invalid priority is still refused: only the ordering breaks
    return dataclasses.replace(options, priority=Priority.NORMAL)


class ForgetfulQueue(MemoryQueue):
    async def add(self, name: str, data: Any, options: JobOptions | None = None, metadata: Any = None) -> Job:
        return await super().add(name, data, _forget_priority(options), metadata)

    async def add_bulk(self, jobs: Sequence[NewJob]) -> list[Job]:
        blind = [dataclasses.replace(job, options=_forget_priority(job.options)) for job in jobs]
        return await super().add_bulk(blind)


class ForgetfulMemoryBroker(MemoryBroker):
    def queue(self, factory: JobFactory) -> MemoryQueue:
        honest = super().queue(factory)
        return ForgetfulQueue(honest._shared, factory, self.clock, self._state)


class TestForgetfulBroker(QueueContract):
    @pytest.fixture
    async def broker(self) -> AsyncIterator[BrokerUnderTest]:
        under_test = MemoryBrokerUnderTest(ForgetfulMemoryBroker())
        yield under_test
        await under_test.close()
