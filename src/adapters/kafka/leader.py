"""``KafkaLeaderElection``: the member of the ``<prefix>.<queue>.leader`` group that owns partition 0.

The leader topic has one partition and no records; Kafka's group coordinator assigns that
partition to exactly one live member, which is the maintenance leader (ticks, snapshots).
A dead leader is replaced after ``leader_session_timeout_ms``. Correctness never depends on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from adapters.kafka.connection import KafkaConnection
from adapters.kafka.topics import QueueTopics
from application.replication.log_port import LeaderElection

logger = logging.getLogger(__name__)


class KafkaLeaderElection(LeaderElection):
    def __init__(self, connection: KafkaConnection, topics: QueueTopics) -> None:
        self._connection = connection
        self._topics = topics
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        settings = self._connection.settings
        consumer = self._connection.new_consumer(
            group_id=self._topics.leader_group,
            auto_offset_reset="latest",
            session_timeout_ms=settings.leader_session_timeout_ms,
            heartbeat_interval_ms=settings.leader_heartbeat_interval_ms,
            fetch_max_wait_ms=500,
        )
        consumer.subscribe([self._topics.leader])
        self._consumer = consumer
        # Joining waits for the group's rebalance delay (seconds): do it in the background.
        self._task = asyncio.create_task(self._run(consumer), name=f"leader-{self._topics.leader}")

    def is_leader(self) -> bool:
        consumer = self._consumer
        return consumer is not None and bool(consumer.assignment())

    async def stop(self) -> None:
        task, consumer = self._task, self._consumer
        self._task = self._consumer = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if consumer is not None:
            with contextlib.suppress(KafkaError, OSError):
                await consumer.stop()

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        """Join, then keep the membership alive (the leader topic carries no records)."""
        while True:
            try:
                await consumer.start()
                break
            except KafkaError as exc:
                logger.warning(
                    "joining leader group failed topic=%s: %s", self._topics.leader, type(exc).__name__
                )
                await asyncio.sleep(1)
        while True:
            try:
                await consumer.getmany(timeout_ms=1_000)
            except KafkaError as exc:
                logger.warning(
                    "leader group poll failed topic=%s: %s", self._topics.leader, type(exc).__name__
                )
                await asyncio.sleep(1)
