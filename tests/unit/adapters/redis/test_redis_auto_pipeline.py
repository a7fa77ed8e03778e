"""Script calls share round trips: at most two pipelines travel at once, later calls wait and go together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from adapters.redis.scripts import Arg, AutoPipeline, Call, ScriptRunner


class _RecordingRunner(ScriptRunner):
    """Answers every call with its first argument after a simulated round trip; records what travelled."""

    def __init__(self, fail_on: str | None = None) -> None:
        super().__init__(keys=["k"], key_base="{bb:q}:")
        self.sent: list[list[str]] = []  # one entry per round trip: the first argument of each call
        self.in_flight = 0
        self.most_in_flight = 0
        self.fail_on = fail_on

    async def _round_trip(self, calls: Sequence[Call]) -> list[Any]:
        self.sent.append([str(call.args[0]) for call in calls])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return [ValueError("refused") if call.args[0] == self.fail_on else call.args[0] for call in calls]

    async def call(self, client: Any, name: str, *args: Arg) -> Any:
        [result] = await self._round_trip([Call(name, args)])
        if isinstance(result, Exception):
            raise result
        return result

    async def call_many(
        self, client: Any, calls: Sequence[Call], *, raise_on_error: bool = True
    ) -> list[Any]:
        return await self._round_trip(calls)


async def test_a_lone_call_goes_out_at_once_as_one_round_trip() -> None:
    runner = _RecordingRunner()
    assert await AutoPipeline(runner, client=None).call("read", "a") == "a"  # type: ignore[arg-type]
    assert runner.sent == [["a"]]


async def test_two_calls_travel_at_once_and_later_ones_wait_and_share_one_pipeline() -> None:
    runner = _RecordingRunner()
    pipeline = AutoPipeline(runner, client=None)  # type: ignore[arg-type]
    results = await asyncio.gather(*(pipeline.call("read", name) for name in "abcde"))
    assert results == list("abcde")
    assert runner.sent[:2] == [["a"], ["b"]]
    assert sorted(runner.sent[2:]) == [["c", "d", "e"]]
    assert runner.most_in_flight == 2


async def test_an_error_in_a_pipelined_call_reaches_only_its_caller() -> None:
    runner = _RecordingRunner(fail_on="d")
    pipeline = AutoPipeline(runner, client=None)  # type: ignore[arg-type]
    results = await asyncio.gather(*(pipeline.call("read", name) for name in "abcde"), return_exceptions=True)
    assert [str(result) for result in results] == ["a", "b", "c", "refused", "e"]
    assert isinstance(results[3], ValueError)


async def test_after_a_burst_a_lone_call_again_goes_out_at_once() -> None:
    runner = _RecordingRunner()
    pipeline = AutoPipeline(runner, client=None)  # type: ignore[arg-type]
    await asyncio.gather(*(pipeline.call("read", name) for name in "abcde"))
    await pipeline.call("read", "f")
    assert runner.sent[-1] == ["f"]
    assert runner.in_flight == 0


@pytest.mark.parametrize("depth", [1, 3])
async def test_the_number_of_pipelines_in_flight_is_bounded_by_the_setting(depth: int) -> None:
    runner = _RecordingRunner()
    pipeline = AutoPipeline(runner, client=None, max_in_flight=depth)  # type: ignore[arg-type]
    await asyncio.gather(*(pipeline.call("read", str(index)) for index in range(20)))
    assert runner.most_in_flight == depth
