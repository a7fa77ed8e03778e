"""The queue's Lua scripts: read once from ``lua/``, registered with ``SCRIPT LOAD``, called by SHA.

Each script is ``lua/lib.lua`` (shared helpers: clock, promotion, stalled recovery, retention)
followed by its own body. A server that lost its script cache (restart, failover) answers
``NOSCRIPT``; the call is then loaded and retried once.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from redis.exceptions import NoScriptError

from adapters.redis.connection import RedisClient

SCRIPT_NAMES = (
    "add",
    "claim",
    "extend",
    "progress",
    "complete",
    "fail",
    "release",
    "hand_back",
    "malformed",
    "remove",
    "replace_data",
    "pause",
    "clean",
    "purge",
    "reprocess",
    "read",
)

Arg = str | int | bytes
MAX_PIPELINE = 512


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    source: str
    sha: str


def _read(name: str) -> str:
    return resources.files("adapters.redis").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


def load_scripts() -> dict[str, Script]:
    lib = _read("lib")
    scripts = {}
    for name in SCRIPT_NAMES:
        source = f"{lib}\n-- ===== {name}.lua =====\n{_read(name)}"
        scripts[name] = Script(name, source, hashlib.sha1(source.encode("utf-8")).hexdigest())
    return scripts


@dataclass(frozen=True, slots=True)
class Call:
    script: str
    args: Sequence[Arg]


class ScriptRunner:
    """Runs the queue's scripts with the queue's ``KEYS`` and key prefix (``ARGV[1]``)."""

    def __init__(self, keys: Sequence[str], key_base: str) -> None:
        self._scripts = load_scripts()
        self._keys = tuple(keys)
        self._base = key_base

    @property
    def scripts(self) -> dict[str, Script]:
        return self._scripts

    async def call(self, client: RedisClient, name: str, *args: Arg) -> Any:
        script = self._scripts[name]
        try:
            return await client.evalsha(script.sha, len(self._keys), *self._keys, self._base, *args)
        except NoScriptError:
            await client.script_load(script.source)
            return await client.evalsha(script.sha, len(self._keys), *self._keys, self._base, *args)

    async def call_many(
        self, client: RedisClient, calls: Sequence[Call], *, raise_on_error: bool = True
    ) -> list[Any]:
        """Pipeline several script calls in one round trip; results in order.

        With ``raise_on_error`` the first failed call's error is raised, else errors are returned
        in place of their results.
        """
        results = await self._pipeline(client, calls)
        missing = [index for index, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            for name in {calls[index].script for index in missing}:
                await client.script_load(self._scripts[name].source)
            retried = await self._pipeline(client, [calls[index] for index in missing])
            for index, result in zip(missing, retried, strict=True):
                results[index] = result
        if raise_on_error:
            for result in results:
                if isinstance(result, Exception):
                    raise result
        return results

    async def _pipeline(self, client: RedisClient, calls: Sequence[Call]) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for call in calls:
            script = self._scripts[call.script]
            # a raw command: a cluster pipeline refuses its evalsha() method, yet routes EVALSHA by keys
            pipe.execute_command("EVALSHA", script.sha, len(self._keys), *self._keys, self._base, *call.args)
        return list(await pipe.execute(raise_on_error=False))


class AutoPipeline:
    """Script calls made while others are in flight are sent together, as one pipeline.

    A lone caller pays one round trip as usual; many concurrent callers (claims, completions,
    adds from many tasks) share round trips instead of each taking a pooled connection. Every
    call stays its own ``EVALSHA``: atomic on its own, errors delivered to its own caller.

    Up to ``max_in_flight`` pipelines travel at once (each on its own pooled connection), so the
    server already has the next batch queued while the client decodes the previous reply: client
    and server work at the same time instead of taking turns.
    """

    def __init__(self, runner: ScriptRunner, client: RedisClient, *, max_in_flight: int = 2) -> None:
        self._runner = runner
        self._client = client
        self._max_in_flight = max_in_flight
        self._queued: list[tuple[Call, asyncio.Future[Any]]] = []
        self._in_flight = 0
        self._drainers: set[asyncio.Task[None]] = set()

    async def call(self, name: str, *args: Arg) -> Any:
        if self._in_flight >= self._max_in_flight:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._queued.append((Call(name, args), future))
            return await future
        self._in_flight += 1
        try:
            return await self._runner.call(self._client, name, *args)
        finally:
            self._after_send()

    def _after_send(self) -> None:
        if self._queued:
            drainer = asyncio.get_running_loop().create_task(self._drain(), name="redis-auto-pipeline")
            self._drainers.add(drainer)
            drainer.add_done_callback(self._drainers.discard)
        else:
            self._in_flight -= 1

    async def _drain(self) -> None:
        try:
            while self._queued:
                batch = self._queued[:MAX_PIPELINE]
                del self._queued[:MAX_PIPELINE]
                calls = [call for call, _ in batch]
                try:
                    results = await self._runner.call_many(self._client, calls, raise_on_error=False)
                except Exception as exc:  # not swallowed: every caller of the batch receives it
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._in_flight -= 1
