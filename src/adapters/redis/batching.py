"""Coalescing: calls that arrive while one is in flight travel together in the next one.

A worker finishing many handlers at once, or many tasks adding single jobs, would pay one round
trip (and one script run) each. Instead the first call goes out at once and every call that
arrives meanwhile is sent in the next single script call (``complete.lua`` and ``add.lua`` take
many). Each item is still handled on its own inside the script (fenced completion, dedup per add);
only the round trip and the script's fixed cost are shared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    def __init__(
        self,
        send: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        max_batch: int = 256,
        *,
        gather_first: bool = False,
    ) -> None:
        """``gather_first``: a lone call first yields once to the event loop, so that calls made in
        the same loop iteration (handlers finishing together) travel with it."""
        self._send = send
        self._max_batch = max_batch
        self._gather_first = gather_first
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._busy = False
        self._flusher: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[Sequence[Result]]] = set()

    async def submit(self, item: Item) -> Result:
        if self._busy:
            future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
            self._pending.append((item, future))
            return await future
        self._busy = True  # nothing in flight: send this one at once, from the caller's own task
        try:
            if self._gather_first:
                await asyncio.sleep(0)
                if self._pending:
                    return await self._send_with_pending(item)
            [result] = await self._send([item])
            return result
        finally:
            if self._pending:
                self._flusher = asyncio.get_running_loop().create_task(self._flush(), name="redis-coalesce")
            else:
                self._busy = False

    async def _send_with_pending(self, item: Item) -> Result:
        """Send ``item`` together with the calls that arrived meanwhile (up to the batch limit).

        The send runs as its own task: if this caller is cancelled, the others still get answers.
        """
        room = self._max_batch - 1
        batch, self._pending = self._pending[:room], self._pending[room:]
        sending = asyncio.get_running_loop().create_task(
            self._send_batch([item, *(queued for queued, _ in batch)])
        )
        self._sending.add(sending)  # a strong reference until it is done, even if this caller goes
        sending.add_done_callback(self._sending.discard)
        sending.add_done_callback(lambda done: _settle(batch, done, skip=1))
        results = await asyncio.shield(sending)
        return results[0]

    async def _send_batch(self, items: Sequence[Item]) -> Sequence[Result]:
        return await self._send(items)

    async def _flush(self) -> None:
        try:
            await self._drain()
        finally:
            self._busy = False

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                results = await self._send([item for item, _ in batch])
            except Exception as exc:  # not swallowed: every caller of the batch receives it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def close(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            await asyncio.wait([self._flusher], timeout=5)


def _settle(
    batch: Sequence[tuple[Item, asyncio.Future[Result]]], done: asyncio.Future[Sequence[Result]], *, skip: int
) -> None:
    """Hand each waiting caller its result (the first ``skip`` results belong to the sender)."""
    if done.cancelled():
        for _, future in batch:
            future.cancel()
        return
    error = done.exception()
    for index, (_, future) in enumerate(batch):
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(done.result()[index + skip])
