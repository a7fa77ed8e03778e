"""Where a test run's broker comes from: an environment URL first, containers only with Docker,
else a local process."""

from __future__ import annotations

import pytest
from tests.harness.brokers import AMQP_URL_ENV, provide_rabbitmq, provide_redis
from tests.harness.containers import docker_reachable
from tests.harness.handle import BrokerControlUnsupportedError
from tests.harness.redis_server import RedisServer


def test_an_environment_url_is_used_as_is_and_cannot_be_restarted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AMQP_URL_ENV, "amqp://app:s3cret@broker.example:5672/%2F")

    broker = provide_rabbitmq()

    assert broker.url == "amqp://app:s3cret@broker.example:5672/%2F"
    assert not broker.restartable
    with pytest.raises(BrokerControlUnsupportedError) as raised:
        broker.restart()
    assert "s3cret" not in str(raised.value)


def test_docker_is_not_reachable_through_a_socket_that_does_not_exist(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")

    assert docker_reachable() is False


def test_testcontainers_requested_without_docker_falls_back_to_a_local_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BACKBONE_TEST_REDIS_URL", raising=False)
    monkeypatch.setenv("BACKBONE_TESTCONTAINERS", "1")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")

    broker = provide_redis()
    try:
        assert isinstance(broker, RedisServer)
        assert broker.url.startswith("redis://127.0.0.1:")
    finally:
        broker.close()
