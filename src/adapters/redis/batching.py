"""Completion batching: completions that arrive while one is in flight travel together.

A worker with many handlers finishing at once would pay one round trip per job; instead the
first completion goes out at once and every completion that arrives meanwhile is sent in the next
single script call (``lua/complete.lua`` takes many). Each job is still completed atomically and
fenced by its own lease token; only the round trips are shared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from application.state_machine.events import LeaseRef

Entry = tuple[LeaseRef, str]
SendBatch = Callable[[Sequence[Entry]], Awaitable[list[bool]]]


class CompletionBatcher:
    def __init__(self, send: SendBatch, max_batch: int = 256) -> None:
        self._send = send
        self._max_batch = max_batch
        self._pending: list[tuple[Entry, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def complete(self, lease: LeaseRef, return_json: str) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append(((lease, return_json), future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="redis-complete-batch")
        return await future

    async def _flush(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                results = await self._send([entry for entry, _ in batch])
            except Exception as exc:  # not swallowed: every caller of the batch receives it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), accepted in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(accepted)

    async def close(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            await asyncio.wait([self._flusher], timeout=5)
