"""Session-wide test fixtures: real brokers, started lazily (only when a test asks for one) and always
stopped at the end of the run. See ``tests/harness/brokers.py`` for where each broker comes from."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from types import FrameType

import pytest

from tests.harness.brokers import provide_kafka, provide_rabbitmq, provide_redis, start_local_redis
from tests.harness.handle import BrokerHandle
from tests.harness.kafka_site import KafkaSite, open_kafka_site
from tests.harness.process import stop_all_processes
from tests.harness.tcp_proxy import TcpProxy

BROKER_FIXTURES = frozenset(
    {"redis_broker", "durable_redis_broker", "rabbitmq_broker", "kafka_broker", "kafka_site"}
)


def pytest_configure(config: pytest.Config) -> None:
    # A CI runner stops a job with SIGTERM: turn it into KeyboardInterrupt so fixture finalizers run
    # and no broker process outlives the run.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_unconfigure(config: pytest.Config) -> None:
    stop_all_processes()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that uses a broker fixture carries the ``broker`` marker (``-m 'not broker'`` skips them)."""
    for item in items:
        if BROKER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.broker)


def _serve(broker: BrokerHandle) -> Iterator[BrokerHandle]:
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture(scope="session")
def redis_broker() -> Iterator[BrokerHandle]:
    """A Redis for the whole run: ``.url`` (``redis://127.0.0.1:P/0``), ``.restart()``/``await .arestart()``."""
    yield from _serve(provide_redis())


@pytest.fixture(scope="session")
def durable_redis_broker() -> Iterator[BrokerHandle]:
    """A local Redis with an fsync-always append-only file: acknowledged writes survive ``restart()``."""
    yield from _serve(start_local_redis(durable=True))


@pytest.fixture(scope="session")
def rabbitmq_broker() -> Iterator[BrokerHandle]:
    """A RabbitMQ for the whole run: ``.url`` (``amqp://guest:guest@127.0.0.1:P/%2F``), ``.restart()``."""
    yield from _serve(provide_rabbitmq())


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[BrokerHandle]:
    """A Kafka-protocol broker for the whole run: ``.url`` (``kafka://127.0.0.1:P``), ``.restart()``."""
    yield from _serve(provide_kafka())


@pytest.fixture(scope="session")
def kafka_site() -> Iterator[KafkaSite]:
    """The Kafka for the contract: ``.url`` and ``await .interrupt()`` (every connection cut for a moment)."""
    yield from open_kafka_site()


@pytest.fixture
def tcp_proxy() -> Iterator[Callable[[str, int], TcpProxy]]:
    """Factory for loopback TCP proxies with ``cut()``/``restore()``: ``proxy = tcp_proxy(host, port)``.

    Every proxy made through it is closed when the test ends.
    """
    made: list[TcpProxy] = []

    def make(target_host: str, target_port: int) -> TcpProxy:
        proxy = TcpProxy.start(target_host, target_port)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()
