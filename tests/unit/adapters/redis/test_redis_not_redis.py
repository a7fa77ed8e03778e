"""Something that is not Redis answering on the address is a broker-unavailable error, not a crash."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from adapters.redis import RedisBroker, RedisSettings
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from domain.queue.errors import BrokerUnavailableError


async def test_a_server_speaking_another_protocol_is_reported_as_unavailable() -> None:
    async def http_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(http_reply, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    broker = RedisBroker(
        RedisSettings(
            url=f"redis://:pw-secret@127.0.0.1:{port}/0", connect_timeout_ms=1000, operation_timeout_ms=1000
        )
    )
    try:
        with pytest.raises(BrokerUnavailableError) as raised:
            await _stats(broker)
        assert "pw-secret" not in str(raised.value)
    finally:
        with contextlib.suppress(BrokerUnavailableError):
            await broker.close()
        server.close()
        await server.wait_closed()


async def _stats(broker: RedisBroker) -> None:
    queue = await broker.open_queue(JobFactory("not-redis", JobTypes(strict=False)))
    await queue.get_stats()
