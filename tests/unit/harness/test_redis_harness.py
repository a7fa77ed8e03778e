"""The harness's Redis: reachable at its URL, restartable on the same port, durable when asked."""

from __future__ import annotations

import pytest
import redis
from tests.harness.brokers import start_local_redis
from tests.harness.handle import BrokerHandle


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def test_redis_broker_answers_at_its_url(redis_broker: BrokerHandle) -> None:
    client = _client(redis_broker.url)
    try:
        assert client.ping() is True
    finally:
        client.close()


def test_durable_redis_keeps_acknowledged_writes_across_a_hard_restart(
    durable_redis_broker: BrokerHandle,
) -> None:
    url_before = durable_redis_broker.url
    client = _client(url_before)
    try:
        client.set("harness:survivor", "yes")
    finally:
        client.close()

    durable_redis_broker.restart(graceful=False)

    assert durable_redis_broker.url == url_before
    client = _client(durable_redis_broker.url)
    try:
        assert client.get("harness:survivor") == b"yes"
    finally:
        client.close()


async def test_redis_restart_can_be_awaited_from_an_async_test() -> None:
    broker = start_local_redis()  # its own server: a restart empties a non-durable Redis
    try:
        await broker.arestart()

        client = _client(broker.url)
        try:
            assert client.ping() is True
        finally:
            client.close()
    finally:
        broker.close()


def test_password_protected_redis_refuses_clients_without_the_password() -> None:
    broker = start_local_redis(password="harness-secret")
    anonymous = _client(broker.url.replace(":harness-secret@", ""))
    authed = _client(broker.url)
    try:
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
        assert authed.ping() is True
    finally:
        anonymous.close()
        authed.close()
        broker.close()
