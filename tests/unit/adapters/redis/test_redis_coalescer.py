"""Calls made while one is in flight are sent together; each caller gets its own result or error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from adapters.redis.batching import Coalescer


class _Recorder:
    def __init__(self, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on

    async def send(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await asyncio.sleep(0.01)  # a round trip
        if self.fail_on in items:
            raise ConnectionError("broker gone")
        return [item * 10 for item in items]


async def test_a_lone_call_goes_out_at_once_and_gets_its_result() -> None:
    recorder = _Recorder()
    assert await Coalescer(recorder.send).submit(1) == 10
    assert recorder.batches == [[1]]


async def test_calls_arriving_during_a_round_trip_share_the_next_one() -> None:
    recorder = _Recorder()
    coalescer: Coalescer[int, int] = Coalescer(recorder.send)
    first = asyncio.create_task(coalescer.submit(1))
    await asyncio.sleep(0.002)
    rest = await asyncio.gather(*(coalescer.submit(n) for n in range(2, 6)))
    assert (await first, rest) == (10, [20, 30, 40, 50])
    assert recorder.batches == [[1], [2, 3, 4, 5]]


async def test_an_error_reaches_every_caller_of_its_batch_and_later_calls_still_work() -> None:
    recorder = _Recorder(fail_on=2)
    coalescer: Coalescer[int, int] = Coalescer(recorder.send)
    results = await asyncio.gather(*(coalescer.submit(n) for n in (1, 2, 3)), return_exceptions=True)
    assert results[0] == 10
    assert all(isinstance(result, ConnectionError) for result in results[1:])
    assert recorder.batches == [[1], [2, 3]]
    assert await coalescer.submit(4) == 40


async def test_batches_never_exceed_the_maximum() -> None:
    recorder = _Recorder()
    coalescer: Coalescer[int, int] = Coalescer(recorder.send, max_batch=3)
    await asyncio.gather(*(coalescer.submit(n) for n in range(7)))
    assert [len(batch) for batch in recorder.batches] == [1, 3, 3]


async def test_with_gather_first_calls_made_in_the_same_loop_turn_share_the_first_round_trip() -> None:
    recorder = _Recorder()
    coalescer: Coalescer[int, int] = Coalescer(recorder.send, gather_first=True)
    assert await asyncio.gather(*(coalescer.submit(n) for n in range(4))) == [0, 10, 20, 30]
    assert recorder.batches == [[0, 1, 2, 3]]


async def test_with_gather_first_an_error_still_reaches_every_caller() -> None:
    recorder = _Recorder(fail_on=1)
    coalescer: Coalescer[int, int] = Coalescer(recorder.send, gather_first=True)
    results = await asyncio.gather(*(coalescer.submit(n) for n in range(3)), return_exceptions=True)
    assert all(isinstance(result, ConnectionError) for result in results)
    assert await coalescer.submit(5) == 50


async def test_cancelling_the_caller_that_sends_a_batch_leaves_the_others_their_results() -> None:
    recorder = _Recorder()
    coalescer: Coalescer[int, int] = Coalescer(recorder.send, gather_first=True)
    sender = asyncio.create_task(coalescer.submit(1))
    others = [asyncio.create_task(coalescer.submit(n)) for n in (2, 3)]
    await asyncio.sleep(0.002)  # the batch [1, 2, 3] is on its way
    sender.cancel()
    assert await asyncio.gather(*others) == [20, 30]
    assert recorder.batches == [[1, 2, 3]]
