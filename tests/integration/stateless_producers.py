"""Producers that hold no queue state and bounded start-up (ADR 0028), for the log-replicated brokers.

``ProducerDedupAndStartUpBehaviours`` run on RabbitMQ and Kafka, ``StatelessProducerBehaviours`` on
Kafka only (a RabbitMQ confirm names no offset: its producers still read their adds back, ADR 0028);
each gives a ``make_broker`` fixture: a new ``Broker`` (a new process, as far as the queue can tell:
its own connections, engine and appender id), optionally with another operation timeout.
Backlogs stay small (this suite runs in CI); the large figures are ``backbone bench --cold-start``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from application.broker import Broker
from application.jobs.job_factory import JobFactory
from application.replication.event_codec import encode_entry, encode_record
from application.replication.replicated_queue import ReplicatedQueue
from application.state_machine import events as ev
from backbone.testing.contract.helpers import ECHO, contract_job_types, unique_queue_name
from domain.queue.job import JobState, NewJob
from domain.queue.options import JobOptions

MakeBroker = Callable[..., Broker]  # make_broker(operation_timeout_ms: int | None = None)
BACKLOG = 300
LONG_LOG_RECORDS = 10_000


async def _open(broker: Broker, name: str) -> ReplicatedQueue:
    queue = await broker.open_queue(JobFactory(name, contract_job_types()))
    assert isinstance(queue, ReplicatedQueue)
    return queue


async def _backlog_behind_a_snapshot(broker: Broker, name: str) -> ReplicatedQueue:
    """A queue with BACKLOG waiting jobs, half of them behind a snapshot, half after it."""
    queue = await _open(broker, name)
    half = BACKLOG // 2
    await queue.add_bulk([NewJob(ECHO, {"i": i}) for i in range(half)])
    await queue.engine.snapshot_now()
    for i in range(half, BACKLOG):
        await queue.add(ECHO, {"i": i})
    return queue


class StatelessProducerBehaviours:
    async def test_an_add_without_id_or_key_loads_nothing_of_a_queue_behind_a_backlog(
        self, make_broker: MakeBroker
    ) -> None:
        name = unique_queue_name("sp")
        holder, producer = make_broker(), make_broker()
        try:
            backlog = await _backlog_behind_a_snapshot(holder, name)
            queue = await _open(producer, name)

            job = await queue.add(ECHO, {"new": True})

            assert job.state is JobState.WAITING and not job.deduplicated
            assert not queue.engine.has_replica  # no snapshot read, no log tailed, 0 jobs held
            stored = await backlog.get_job(job.id)
            assert stored is not None and stored.data == {"new": True}
            assert (await backlog.get_stats()).waiting == BACKLOG + 1
        finally:
            await holder.close()
            await producer.close()

    async def test_a_bulk_add_without_ids_or_keys_loads_nothing_either(self, make_broker: MakeBroker) -> None:
        name = unique_queue_name("sp")
        holder, producer = make_broker(), make_broker()
        try:
            backlog = await _backlog_behind_a_snapshot(holder, name)
            queue = await _open(producer, name)

            jobs = await queue.add_bulk([NewJob(ECHO, {"bulk": i}) for i in range(3)])

            assert not queue.engine.has_replica
            assert [job.state for job in jobs] == [JobState.WAITING] * 3
            assert (await backlog.get_stats()).waiting == BACKLOG + 3
        finally:
            await holder.close()
            await producer.close()


class ProducerDedupAndStartUpBehaviours:
    async def test_dedup_by_job_id_stays_exact_across_two_producer_processes(
        self, make_broker: MakeBroker
    ) -> None:
        name = unique_queue_name("sp")
        first, second = make_broker(), make_broker()
        try:
            one, two = await _open(first, name), await _open(second, name)
            options = JobOptions(job_id="order-7")

            a, b = await asyncio.gather(
                one.add(ECHO, {"from": "first"}, options), two.add(ECHO, {"from": "second"}, options)
            )

            assert a.id == b.id == "order-7"
            assert sorted([a.deduplicated, b.deduplicated]) == [False, True]
            assert a.data == b.data  # both return the job that was stored
            assert (await one.get_stats()).waiting == 1
        finally:
            await first.close()
            await second.close()

    async def test_dedup_by_idempotency_key_stays_exact_across_two_producer_processes(
        self, make_broker: MakeBroker
    ) -> None:
        name = unique_queue_name("sp")
        first, second = make_broker(), make_broker()
        try:
            one, two = await _open(first, name), await _open(second, name)
            options = JobOptions(idempotency_key="payment-42")

            a = await one.add(ECHO, {"from": "first"}, options)
            b = await two.add(ECHO, {"from": "second"}, options)

            assert b.id == a.id and b.deduplicated and b.data == {"from": "first"}
            assert (await two.get_stats()).waiting == 1
        finally:
            await first.close()
            await second.close()

    async def test_a_worker_opens_behind_a_long_log_of_single_adds_that_it_replays_past_the_timeout(
        self, make_broker: MakeBroker
    ) -> None:
        """LONG_LOG_RECORDS records of one add each and no snapshot: replaying them takes longer
        than the (short) operation timeout here; the open waits while the replica makes progress."""
        name = unique_queue_name("sp")
        writer, worker_side = make_broker(), make_broker(operation_timeout_ms=1_000)
        try:
            queue = await _open(writer, name)
            factory = JobFactory(name, contract_job_types())
            appender = os.urandom(8).hex()
            now = queue.engine.clock()
            records = [
                encode_record(
                    appender,
                    [
                        encode_entry(
                            1 + i, ev.Add(drafts=(factory.draft(ECHO, {"i": i}, None, None, now),), now=now)
                        )
                    ],
                )
                for i in range(LONG_LOG_RECORDS)
            ]
            await queue.engine.log.append(records)
            late = await _open(worker_side, name)

            stats = await late.get_stats()  # a worker's first operation that needs the queue

            assert stats.waiting == LONG_LOG_RECORDS
            assert late.engine.replica.records_applied >= LONG_LOG_RECORDS
        finally:
            await writer.close()
            await worker_side.close()
