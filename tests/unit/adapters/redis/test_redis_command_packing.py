"""Commands are packed by hiredis where redis-py's asyncio client would pack them in Python: same bytes."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from adapters.redis.connection import _PackedConnection


@pytest.mark.parametrize(
    "args",
    [
        ("EVALSHA", "0123abcd", 7, "{q}:meta", b"\xff\x00raw", "prefix", 1.5, 1e20, -3),
        ("SCRIPT LOAD", "return 1"),  # a command name of two words goes as two
        ("HSET", "k", "naïve ☃", ""),
        (b"PING",),
    ],
)
def test_a_command_packs_to_the_same_bytes_as_redis_pys_own_packer(args: tuple[object, ...]) -> None:
    ours = b"".join(_PackedConnection().pack_command(*args))
    theirs = b"".join(Connection().pack_command(*args))
    assert ours == theirs


def test_an_argument_redis_py_refuses_is_refused_with_its_own_error() -> None:
    with pytest.raises(DataError, match="Invalid input of type: 'bool'"):
        _PackedConnection().pack_command("SET", "k", True)


def test_an_argument_hiredis_does_not_take_falls_back_to_redis_pys_packer() -> None:
    args = ("SET", "k", memoryview(b"value"))
    assert b"".join(_PackedConnection().pack_command(*args)) == b"".join(Connection().pack_command(*args))
