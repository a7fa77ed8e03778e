"""``RabbitMQWorkerRegistry``: heartbeats appended to the stream ``<prefix>.workers`` (ADR 0025).

Each heartbeat is one message (header ``jq-worker`` = the worker id); a worker that stops cleanly
appends a leave message (header ``jq-worker-leave``). The stream keeps ``STREAM_MAX_AGE`` of
messages in small segments. Listing attaches at a timestamp ``LIST_WINDOW_MS`` back (longer than
any heartbeat's TTL, see ``MAX_HEARTBEAT_INTERVAL_MS``), publishes a probe and reads until the probe
comes back: everything stored before the call has then been seen.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from adapters.rabbitmq.broker import RabbitMQBroker
from adapters.rabbitmq.stream_log import ConfirmingPublisher
from adapters.rabbitmq.stream_subscription import StreamSubscription
from adapters.rabbitmq.topology import declare
from application.presence.registry import WorkerHeartbeat, WorkerRegistry, latest_live

H_WORKER, H_LEAVE, H_PROBE = "jq-worker", "jq-worker-leave", "jq-probe"
STREAM_MAX_AGE = "1h"
SEGMENT_BYTES = 1_000_000
LIST_WINDOW_MS = 5 * 60 * 1000


def workers_stream_arguments() -> dict[str, Any]:
    return {
        "x-queue-type": "stream",
        "x-max-age": STREAM_MAX_AGE,
        "x-stream-max-segment-size-bytes": SEGMENT_BYTES,
    }


class RabbitMQWorkerRegistry(WorkerRegistry):
    def __init__(self, broker: RabbitMQBroker) -> None:
        self._link = broker.link
        self._settings = broker.settings
        self._clock = broker.clock
        self.stream = f"{broker.settings.key_prefix}.workers"
        self._publisher = ConfirmingPublisher(self._link, self.stream, self._settings)
        self._declared = False

    async def _declare(self) -> None:
        if self._declared:
            return
        channel = await self._link.channel()
        try:
            await declare(
                channel, self.stream, workers_stream_arguments(), self._settings.operation_timeout_s
            )
        finally:
            channel.close()
        self._declared = True

    async def publish(self, beat: WorkerHeartbeat) -> None:
        await self._declare()
        await self._publisher.publish([beat.to_json()], [{H_WORKER: beat.worker_id}])

    async def remove(self, worker_id: str) -> None:
        await self._declare()
        await self._publisher.publish([b""], [{H_LEAVE: worker_id}])

    async def live(self) -> list[WorkerHeartbeat]:
        await self._declare()
        now = self._clock()
        start = datetime.fromtimestamp(max(0, now - LIST_WINDOW_MS) / 1000, UTC)
        timeout_s = self._settings.operation_timeout_s
        channel = await self._link.channel()
        subscription = StreamSubscription(channel, self.stream, 256)
        records: list[WorkerHeartbeat | str] = []
        probe = uuid.uuid4().hex
        try:
            await subscription.start(start, timeout_s)
            await self._publisher.publish([b""], [{H_PROBE: probe}])
            seen_probe = False
            while not seen_probe:
                batch = await subscription.batch(timeout_s)
                if not batch:
                    raise self._link.unavailable(
                        f"no delivery from {self.stream} within {self._settings.operation_timeout_ms} ms"
                    )
                for message in batch:
                    headers = message.headers
                    if headers.get(H_PROBE) in (probe, probe.encode()):
                        seen_probe = True
                        break
                    left = headers.get(H_LEAVE)
                    if left is not None:
                        records.append(left.decode() if isinstance(left, bytes) else str(left))
                    elif headers.get(H_WORKER) is not None:
                        beat = WorkerHeartbeat.from_json(message.body)
                        if beat is not None:
                            records.append(beat)
        finally:
            subscription.close()
        return latest_live(records, self._clock())

    async def close(self) -> None:
        self._publisher.close()
