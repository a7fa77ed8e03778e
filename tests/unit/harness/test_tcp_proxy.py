"""The outage proxy: forwards to its target, cut() drops and refuses connections, restore() heals."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
import redis
from tests.harness.handle import BrokerHandle
from tests.harness.tcp_proxy import TcpProxy

ProxyFactory = Callable[[str, int], TcpProxy]


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def test_proxy_forwards_traffic_to_its_target(redis_broker: BrokerHandle, tcp_proxy: ProxyFactory) -> None:
    proxy = tcp_proxy(redis_broker.host, redis_broker.port)
    client = _client(proxy.proxied_url(redis_broker.url))
    try:
        client.set("harness:proxied", "1")
        assert client.get("harness:proxied") == b"1"
    finally:
        client.close()


def test_cut_drops_open_connections_and_refuses_new_ones(
    redis_broker: BrokerHandle, tcp_proxy: ProxyFactory
) -> None:
    proxy = tcp_proxy(redis_broker.host, redis_broker.port)
    client = _client(proxy.proxied_url(redis_broker.url))
    try:
        assert client.ping() is True

        proxy.cut()

        with pytest.raises(redis.ConnectionError):
            client.ping()
        with (
            pytest.raises(ConnectionRefusedError),
            socket.create_connection((proxy.host, proxy.port), timeout=2),
        ):
            pass
    finally:
        client.close()


async def test_restore_accepts_connections_again_on_the_same_port(
    redis_broker: BrokerHandle, tcp_proxy: ProxyFactory
) -> None:
    proxy = tcp_proxy(redis_broker.host, redis_broker.port)
    port_before = proxy.port
    await proxy.acut()

    await proxy.arestore()

    client = _client(proxy.proxied_url(redis_broker.url))
    try:
        assert proxy.port == port_before
        assert client.ping() is True
    finally:
        client.close()


def test_proxied_url_keeps_credentials_and_path() -> None:
    with TcpProxy.start("127.0.0.1", 9) as proxy:
        url = proxy.proxied_url("amqp://guest:guest@127.0.0.1:5672/%2F")

    assert url == f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F"
