"""``SendBroadcastHandler``: push one announcement to many users in chunks (seed 003 batch-send).

Progress after every chunk is a ``JobProgress`` whose ``data`` is the checkpoint: how many
recipients (in list order) were handled and which were rejected. A retry starts from the
checkpoint of the previous attempt, so recipients already sent are not sent again. When a send
fails part-way through a chunk, the checkpoint is written up to that recipient before the job
fails. Only a worker that dies between a send and the next checkpoint can repeat sends (delivery
is at least once); each message's ``message_id`` (``broadcast:{id}:{user}``) lets a provider drop
such a duplicate.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from domain.notifications.jobs import SendBroadcast
from domain.notifications.messages import PushMessage
from domain.notifications.ports import PushSender, RecipientRejectedError
from domain.queue.context import JobContext
from domain.queue.errors import PermanentError, RetryableError
from domain.queue.job import JobProgress, Progress

Sleep = Callable[[float], Awaitable[None]]


class _Checkpoint:
    def __init__(self, processed: int = 0, rejected: list[str] | None = None) -> None:
        self.processed = processed
        self.rejected = rejected or []

    @staticmethod
    def resume(progress: Progress | Mapping[str, Any], broadcast_id: str) -> _Checkpoint:
        """The checkpoint a previous attempt left in the job's progress (or a fresh one)."""
        data: Any = None
        if isinstance(progress, JobProgress):
            data = progress.data
        elif isinstance(progress, Mapping):  # an adapter that hands progress back as plain JSON
            data = progress.get("data")
        if not isinstance(data, Mapping) or data.get("broadcast_id") != broadcast_id:
            return _Checkpoint()
        processed, rejected = data.get("processed"), data.get("rejected")
        if not isinstance(processed, int) or not isinstance(rejected, list):
            return _Checkpoint()
        return _Checkpoint(processed, [str(r) for r in rejected])


class SendBroadcastHandler:
    def __init__(self, sender: PushSender, *, sleep: Sleep | None = None) -> None:
        self._sender = sender
        self._sleep: Sleep = sleep or asyncio.sleep

    async def __call__(self, payload: SendBroadcast, ctx: JobContext) -> dict[str, Any]:
        recipients = payload.recipient_ids
        total, size = len(recipients), payload.chunk_size
        chunks = math.ceil(total / size)
        point = _Checkpoint.resume(ctx.job.progress, payload.broadcast_id)
        if point.processed:
            ctx.logger.info(
                "broadcast %s resumes after %s of %s recipients", payload.broadcast_id, point.processed, total
            )
        while point.processed < total:
            chunk_end = min((point.processed // size + 1) * size, total)
            for index in range(point.processed, chunk_end):
                await self._send_one(payload, recipients[index], point, ctx)
                point.processed = index + 1
            await self._save(ctx, payload, point, chunks)
            if point.processed < total and payload.chunk_delay_ms:
                await self._sleep(payload.chunk_delay_ms / 1000)
        return {
            "broadcast_id": payload.broadcast_id,
            "recipients": total,
            "sent": total - len(point.rejected),
            "rejected": list(point.rejected),
            "chunks": chunks,
        }

    async def _send_one(
        self, payload: SendBroadcast, user_id: str, point: _Checkpoint, ctx: JobContext
    ) -> None:
        message = PushMessage(
            message_id=f"broadcast:{payload.broadcast_id}:{user_id}",
            user_id=user_id,
            title=payload.title,
            body=payload.body,
            correlation_id=ctx.correlation_id,
            data={"broadcast_id": payload.broadcast_id, "sender_id": payload.sender_id},
        )
        chunks = math.ceil(len(payload.recipient_ids) / payload.chunk_size)
        chunk = point.processed // payload.chunk_size + 1
        try:
            await self._sender.send_push(message)
        except RecipientRejectedError as exc:
            ctx.logger.warning("broadcast %s: user %s rejected: %s", payload.broadcast_id, user_id, exc)
            point.rejected.append(user_id)
        except RetryableError as exc:
            await self._save(ctx, payload, point, chunks)
            raise RetryableError(
                f"broadcast {payload.broadcast_id}: chunk {chunk}/{chunks} failed at user {user_id}: {exc}",
                retry_delay_ms=exc.retry_delay_ms,
            ) from exc
        except PermanentError as exc:
            await self._save(ctx, payload, point, chunks)
            raise PermanentError(
                f"broadcast {payload.broadcast_id}: chunk {chunk}/{chunks} failed at user {user_id}: {exc}"
            ) from exc

    async def _save(self, ctx: JobContext, payload: SendBroadcast, point: _Checkpoint, chunks: int) -> None:
        total = len(payload.recipient_ids)
        done = point.processed == total
        await ctx.update_progress(
            JobProgress(
                percentage=round(100 * point.processed / total, 2),
                step="complete" if done else "sending",
                total_steps=chunks,
                current_step=point.processed // payload.chunk_size if not done else chunks,
                data={
                    "broadcast_id": payload.broadcast_id,
                    "processed": point.processed,
                    "rejected": list(point.rejected),
                    "total": total,
                },
            )
        )
