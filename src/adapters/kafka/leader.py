"""``KafkaLeaderElection``: the lowest-id live member heard on the ``<prefix>.<queue>.leader`` topic.

Every process appends a heartbeat record (its member id) to the queue's 1-partition leader topic
each ``leader_heartbeat_interval_ms`` and tails that topic; the leader is the smallest member id
heard within ``leader_session_timeout_ms`` (this process's own heartbeats count only once they
came back through the broker). A closing member appends a ``leave`` record so the next one takes
over at once; a killed one is replaced after the session timeout.

Why not a consumer group: joining a group waits for the coordinator's rebalance delay (3 s on
Tansu and by default on Kafka) and cannot be cancelled, so every short-lived handle would take
seconds to open or close. Two members may briefly both believe they lead (after a partition);
that is harmless: ticks are idempotent and snapshots are whole states at an offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from adapters.kafka.connection import KafkaConnection, stop_quietly
from adapters.kafka.topics import QueueTopics
from application.replication.log_port import LeaderElection
from domain.queue.errors import BrokerUnavailableError

logger = logging.getLogger(__name__)

RECENT_RECORDS = 2_000  # how far back a new member reads to learn who is alive


class KafkaLeaderElection(LeaderElection):
    def __init__(self, connection: KafkaConnection, topics: QueueTopics) -> None:
        self._connection = connection
        self._topics = topics
        self._partition = TopicPartition(topics.leader, 0)
        self.member_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"  # older members sort first
        self._seen: dict[str, float] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        connection = self._connection
        consumer = connection.new_consumer(auto_offset_reset="earliest", fetch_max_wait_ms=200)
        await connection.guard(consumer.start(), "starting the leader topic reader")
        consumer.assign([self._partition])
        end = await connection.end_offset(self._topics.leader)
        consumer.seek(self._partition, max(end - RECENT_RECORDS, 0))
        self._consumer = consumer
        self._tasks = [
            asyncio.create_task(self._listen(consumer), name=f"leader-listen-{self._topics.leader}"),
            asyncio.create_task(self._beat(), name=f"leader-beat-{self._topics.leader}"),
        ]

    def is_leader(self) -> bool:
        horizon = time.monotonic() - self._connection.settings.leader_session_timeout_ms / 1000
        alive = [member for member, seen in self._seen.items() if seen >= horizon]
        return bool(alive) and min(alive) == self.member_id

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(BrokerUnavailableError):
                await self._connection.guard(self._send(leave=True), "leaving the leader topic", 1_000)
            await stop_quietly(consumer)
        self._seen.clear()

    async def _beat(self) -> None:
        interval = self._connection.settings.leader_heartbeat_interval_ms / 1000
        while True:
            try:
                await self._send(leave=False)
            except BrokerUnavailableError as exc:
                logger.debug("leader heartbeat failed topic=%s: %s", self._topics.leader, exc.reason)
            await asyncio.sleep(interval)

    async def _send(self, *, leave: bool) -> None:
        body = json.dumps({"member": self.member_id, "leave": leave}).encode()
        await self._connection.send(self._topics.leader, self.member_id.encode(), body)

    async def _listen(self, consumer: AIOKafkaConsumer) -> None:
        partition = self._partition
        while True:
            try:
                batches = await consumer.getmany(partition, timeout_ms=1_000)
            except KafkaError as exc:
                logger.warning(
                    "leader topic read failed topic=%s: %s", self._topics.leader, type(exc).__name__
                )
                await asyncio.sleep(1)
                continue
            now = time.monotonic()
            horizon_ms = time.time() * 1000 - self._connection.settings.leader_session_timeout_ms
            for message in batches.get(partition, ()):
                self._hear(message.value, message.timestamp, now, horizon_ms)

    def _hear(self, value: bytes | None, timestamp_ms: int, now: float, horizon_ms: float) -> None:
        try:
            beat = json.loads(value or b"")
            member, leave = str(beat["member"]), bool(beat["leave"])
        except (ValueError, KeyError, TypeError):
            return  # not a heartbeat: ignore
        if leave:
            self._seen.pop(member, None)
        elif timestamp_ms >= horizon_ms:  # old heartbeats read at start-up are not signs of life
            self._seen[member] = now
