"""The queue's Lua scripts: read once from ``lua/``, registered with ``SCRIPT LOAD``, called by SHA.

Each script is ``lua/lib.lua`` (shared helpers: clock, promotion, stalled recovery, retention)
followed by its own body. A server that lost its script cache (restart, failover) answers
``NOSCRIPT``; the call is then loaded and retried once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

SCRIPT_NAMES = (
    "add",
    "claim",
    "extend",
    "progress",
    "complete",
    "fail",
    "release",
    "malformed",
    "remove",
    "pause",
    "clean",
    "purge",
    "reprocess",
    "read",
)

Arg = str | int | bytes


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

    async def call(self, client: Redis, name: str, *args: Arg) -> Any:
        script = self._scripts[name]
        try:
            return await client.evalsha(script.sha, len(self._keys), *self._keys, self._base, *args)
        except NoScriptError:
            await client.script_load(script.source)
            return await client.evalsha(script.sha, len(self._keys), *self._keys, self._base, *args)

    async def call_many(self, client: Redis, calls: Sequence[Call]) -> list[Any]:
        """Pipeline several script calls in one round trip; results in order, errors raised."""
        results = await self._pipeline(client, calls)
        missing = [index for index, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            for name in {calls[index].script for index in missing}:
                await client.script_load(self._scripts[name].source)
            retried = await self._pipeline(client, [calls[index] for index in missing])
            for index, result in zip(missing, retried, strict=True):
                results[index] = result
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    async def _pipeline(self, client: Redis, calls: Sequence[Call]) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for call in calls:
            script = self._scripts[call.script]
            pipe.evalsha(script.sha, len(self._keys), *self._keys, self._base, *call.args)
        return list(await pipe.execute(raise_on_error=False))
