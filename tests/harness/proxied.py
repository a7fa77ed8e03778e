"""A broker reached through a ``TcpProxy``: ``cut()`` makes it unreachable without stopping it.

proxied = behind_proxy(redis_broker)          # Redis, RabbitMQ: any broker the test already has
proxied = start_local_kafka_behind_proxy()    # Kafka: the broker must advertise the proxy's port
client connects to proxied.url; proxied.cut(); ...; proxied.restore(); proxied.close()
"""

from __future__ import annotations

from tests.harness.handle import BrokerHandle
from tests.harness.ports import LOOPBACK, free_port
from tests.harness.process import wait_until
from tests.harness.tcp_proxy import TcpProxy
from tests.harness.tls import ServerTls

START_TIMEOUT_S = 30.0


class ProxiedBroker(BrokerHandle):
    """``url`` points at the proxy; stop/start/restart act on the broker behind it."""

    def __init__(self, broker: BrokerHandle, proxy: TcpProxy, *, owns_broker: bool) -> None:
        self.kind = broker.kind
        self.broker = broker
        self.proxy = proxy
        self._owns_broker = owns_broker

    @property
    def url(self) -> str:
        return self.proxy.proxied_url(self.broker.url)

    @property
    def restartable(self) -> bool:
        return self.broker.restartable

    def stop(self, *, graceful: bool = True) -> None:
        self.broker.stop(graceful=graceful)

    def start(self) -> None:
        self.broker.start()

    def cut(self) -> None:
        """Drop every client connection and refuse new ones (the broker keeps running)."""
        self.proxy.cut()

    def restore(self) -> None:
        self.proxy.restore()

    async def acut(self) -> None:
        await self.proxy.acut()

    async def arestore(self) -> None:
        await self.proxy.arestore()

    def close(self) -> None:
        try:
            self.proxy.close()
        finally:
            if self._owns_broker:
                self.broker.close()


def behind_proxy(broker: BrokerHandle) -> ProxiedBroker:
    """Put a proxy in front of a Redis or RabbitMQ broker (closing it leaves the broker running).

    Not for Kafka: its clients reconnect to the advertised address, bypassing the proxy; use
    ``start_local_kafka_behind_proxy``.
    """
    if broker.kind == "kafka":
        raise ValueError("Kafka clients bypass a plain proxy: use start_local_kafka_behind_proxy()")
    return ProxiedBroker(broker, TcpProxy.start(broker.host, broker.port), owns_broker=False)


def start_local_kafka_behind_proxy(
    *, tls: ServerTls | None = None, authentication: bool = False
) -> ProxiedBroker:
    """A local Tansu that advertises a proxy's port, and that proxy (closing it stops both).

    ``tls`` makes the proxy a TLS front: clients must use ``security_protocol="SSL"``.
    """
    from tests.harness.brokers import start_local_kafka
    from tests.harness.tansu_server import kafka_metadata_answers

    proxy_port = free_port()
    broker = start_local_kafka(advertised_port=proxy_port, authentication=authentication)
    try:
        server_tls = tls.server_context() if tls is not None else None
        proxy = TcpProxy.start(LOOPBACK, broker.port, listen_port=proxy_port, tls=server_tls)
    except BaseException:
        broker.close()
        raise
    proxied = ProxiedBroker(broker, proxy, owns_broker=True)
    if authentication:  # no SASL user can exist on it, so a metadata request cannot succeed
        return proxied
    try:
        wait_until(
            lambda: kafka_metadata_answers(
                f"{LOOPBACK}:{proxy_port}", tls=tls.client_context() if tls is not None else None
            ),
            timeout_s=START_TIMEOUT_S,
            what=f"tansu behind proxy port {proxy_port} (metadata request)",
            interval_s=0.2,
        )
    except BaseException:
        proxied.close()
        raise
    return proxied
