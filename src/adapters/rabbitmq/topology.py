"""Names and declarations of the RabbitMQ objects behind one queue.

Per queue ``q`` with prefix ``p``: the stream ``p.q.log`` (the replicated event log), the stream
``p.q.snapshots`` (state snapshots) and the classic queue ``p.q.leader`` (single active consumer:
the maintenance leader).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from adapters.rabbitmq.channel import AmqpChannel
from adapters.rabbitmq.settings import RabbitMQSettings
from domain.queue.errors import BrokerUnavailableError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QueueTopology:
    log_stream: str
    snapshot_stream: str
    leader_queue: str

    @classmethod
    def of(cls, prefix: str, queue: str) -> QueueTopology:
        base = f"{prefix}.{queue}"
        return cls(f"{base}.log", f"{base}.snapshots", f"{base}.leader")


def log_stream_arguments(settings: RabbitMQSettings) -> dict[str, Any]:
    return {
        "x-queue-type": "stream",
        "x-max-age": settings.log_max_age,
        "x-max-length-bytes": settings.log_max_length_bytes,
        "x-stream-max-segment-size-bytes": settings.log_max_segment_bytes,
    }


def snapshot_stream_arguments(settings: RabbitMQSettings) -> dict[str, Any]:
    return {
        "x-queue-type": "stream",
        "x-max-length-bytes": settings.snapshot_max_length_bytes,
        "x-stream-max-segment-size-bytes": settings.snapshot_max_segment_bytes,
    }


def leader_queue_arguments(settings: RabbitMQSettings) -> dict[str, Any]:
    return {
        "x-single-active-consumer": True,
        "x-message-ttl": settings.leader_ping_ms * settings.leader_lease_pings,
        "x-max-length": 1_000,
    }


async def declare(channel: AmqpChannel, name: str, arguments: dict[str, Any], timeout_s: float) -> None:
    """Declare a durable queue or stream. Raises ``BrokerUnavailableError`` (e.g. when it exists with
    other arguments: RabbitMQ refuses with 406 PRECONDITION_FAILED; delete it or align the settings)."""
    try:
        await channel.declare_queue(name, arguments, timeout_s)
    except BrokerUnavailableError as exc:
        logger.error("cannot declare %s: %s", name, exc.reason)
        raise
