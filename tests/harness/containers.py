"""Brokers in Docker containers through testcontainers: used only with ``BACKBONE_TESTCONTAINERS=1`` and a
reachable Docker engine. Without Docker nothing here runs (and nothing here is imported at start-up)."""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any
from urllib.parse import urlsplit

from tests.harness.handle import BrokerHandle

REDIS_IMAGE = "redis:7.2-alpine"
RABBITMQ_IMAGE = "rabbitmq:3.13-management-alpine"
KAFKA_IMAGE = "apache/kafka:3.8.0"


def testcontainers_requested() -> bool:
    return os.environ.get("BACKBONE_TESTCONTAINERS", "") == "1"


def docker_reachable(timeout_s: float = 3.0) -> bool:
    """True when a Docker engine answers ``GET /_ping`` (on ``DOCKER_HOST`` or the default unix socket).

    Checked with a plain socket, so a missing engine costs nothing and leaves nothing open.
    """
    docker_host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    parts = urlsplit(docker_host)
    try:
        if parts.scheme == "unix":
            if not os.path.exists(parts.path):
                return False
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[str, int] = parts.path
        elif parts.scheme in {"tcp", "http"}:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (parts.hostname or "127.0.0.1", parts.port or 2375)
        else:
            return False  # TLS and ssh engines: not probed, testcontainers is not used
        with sock:
            sock.settimeout(timeout_s)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    return reply.startswith(b"HTTP/") and b" 200 " in reply


class ContainerBroker(BrokerHandle):
    """A broker in a container. Not restartable from tests (its mapped port would change)."""

    def __init__(self, kind: str, container: Any, url: str) -> None:
        self.kind = kind
        self._container = container
        self._url = url

    @property
    def url(self) -> str:
        return self._url

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._container.stop()


def start_redis_container() -> ContainerBroker:
    from testcontainers.redis import RedisContainer

    container = RedisContainer(REDIS_IMAGE).start()
    host = container.get_container_host_ip()
    port = container.get_exposed_port(6379)
    return ContainerBroker("redis", container, f"redis://{host}:{port}/0")


def start_rabbitmq_container() -> ContainerBroker:
    from testcontainers.rabbitmq import RabbitMqContainer

    container = RabbitMqContainer(RABBITMQ_IMAGE).start()
    host = container.get_container_host_ip()
    port = container.get_exposed_port(5672)
    return ContainerBroker("rabbitmq", container, f"amqp://guest:guest@{host}:{port}/%2F")


def start_kafka_container() -> ContainerBroker:
    from testcontainers.kafka import KafkaContainer

    container = KafkaContainer(KAFKA_IMAGE).with_kraft().start()
    bootstrap = container.get_bootstrap_server()
    return ContainerBroker("kafka", container, f"kafka://{bootstrap}")
