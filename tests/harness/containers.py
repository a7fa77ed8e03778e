"""Brokers in Docker containers through testcontainers: used only with ``BACKBONE_TESTCONTAINERS=1`` and a
reachable Docker engine. Without Docker nothing here runs (and nothing here is imported at start-up)."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from tests.harness.handle import BrokerHandle

REDIS_IMAGE = "redis:7.2-alpine"
RABBITMQ_IMAGE = "rabbitmq:3.13-management-alpine"
KAFKA_IMAGE = "apache/kafka:3.8.0"


def testcontainers_requested() -> bool:
    return os.environ.get("BACKBONE_TESTCONTAINERS", "") == "1"


def docker_reachable() -> bool:
    try:
        import docker  # type: ignore[import-untyped]  # comes with testcontainers
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure to reach the engine means "no Docker"
        return False


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
