"""Encrypted payloads on Redis, read back raw with redis-py: no key holds the plaintext (ADR 0023)."""

from __future__ import annotations

import logging

import pytest
import redis.asyncio as aioredis

from adapters.redis.keys import QueueKeys
from application.broker import DEFAULT_KEY_PREFIX
from backbone.testing.contract.brokers import broker_under_test
from backbone.testing.contract.helpers import unique_queue_name
from tests.harness.handle import BrokerHandle
from tests.integration.encryption_at_rest import (
    assert_log_has_no_plaintext,
    assert_no_plaintext,
    store_encrypted_jobs,
)

pytestmark = pytest.mark.broker


async def _every_value(url: str, queue: str) -> list[bytes]:
    """Every key of the queue and everything in it, as bytes: strings, hash fields and sorted-set members."""
    client = aioredis.Redis.from_url(url)
    blobs: list[bytes] = []
    try:
        async for key in client.scan_iter(match=f"{QueueKeys(DEFAULT_KEY_PREFIX, queue).tag}*"):
            blobs.append(key)
            kind = (await client.type(key)).decode()
            if kind == "hash":
                blobs.extend(part for pair in (await client.hgetall(key)).items() for part in pair)
            elif kind == "zset":
                blobs.extend(await client.zrange(key, 0, -1))
            elif kind == "string":
                blobs.append(await client.get(key))
            elif kind == "list":
                blobs.extend(await client.lrange(key, 0, -1))
            elif kind == "stream":
                blobs.extend(
                    part for _, entry in await client.xrange(key) for pair in entry.items() for part in pair
                )
    finally:
        await client.aclose()
    return blobs


async def test_redis_holds_only_envelopes_of_an_encrypted_queue_in_every_state_and_no_log_line_holds_the_plaintext(
    redis_broker: BrokerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    queue = unique_queue_name("enc")
    contract = broker_under_test(redis_broker.url)
    try:
        scenario = await store_encrypted_jobs(contract, queue)
        await scenario.handle.close()
        assert_no_plaintext(await _every_value(redis_broker.url, queue), scenario)
        assert_log_has_no_plaintext(caplog.text, scenario)
    finally:
        await contract.close()
