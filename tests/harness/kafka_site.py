"""Where the tests' Kafka is, and how to make it unreachable for a moment (``kafka_site`` fixture).

Locally the broker is advertised behind a TCP proxy, so an outage is a cut of every connection
(Tansu keeps records in memory only: a restart would empty it). An external broker or a container
cannot be put behind a proxy: its ``interrupt`` skips the test that asks for it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.harness import containers
from tests.harness.brokers import KAFKA_URL_ENV, provide_kafka, start_local_kafka
from tests.harness.ports import LOOPBACK, free_port
from tests.harness.tcp_proxy import TcpProxy


@dataclass
class KafkaSite:
    url: str
    interrupt: Callable[[], Awaitable[None]]


def open_kafka_site() -> Iterator[KafkaSite]:
    in_container = containers.testcontainers_requested() and containers.docker_reachable()
    if os.environ.get(KAFKA_URL_ENV, "").strip() or in_container:

        async def cannot_interrupt() -> None:
            pytest.skip("this Kafka cannot be interrupted from the tests (external or container)")

        handle = provide_kafka()
        try:
            yield KafkaSite(handle.url, cannot_interrupt)
        finally:
            handle.close()
        return

    port = free_port()
    server = start_local_kafka(advertised_port=port)
    proxy = TcpProxy.start(LOOPBACK, server.port, listen_port=port)

    async def cut_and_restore() -> None:
        await proxy.acut()
        await asyncio.sleep(0.5)
        await proxy.arestore()

    try:
        yield KafkaSite(f"kafka://{LOOPBACK}:{port}", cut_and_restore)
    finally:
        proxy.close()
        server.close()
