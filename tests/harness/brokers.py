"""Which broker a test run uses, in this order:

1. an existing broker named by ``BACKBONE_TEST_REDIS_URL`` / ``BACKBONE_TEST_AMQP_URL`` /
   ``BACKBONE_TEST_KAFKA_URL`` (not restartable from tests);
2. with ``BACKBONE_TESTCONTAINERS=1`` and a reachable Docker engine, a testcontainers container;
3. otherwise a local process on a free loopback port with a temporary data dir (restartable):
   ``redis-server``, ``rabbitmq-server`` (Debian packages) or Tansu (``.brokers/bin/tansu``).

``scripts/install-brokers.sh`` installs what (3) needs.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.harness import containers
from tests.harness.handle import BrokerHandle, ExternalBroker
from tests.harness.tls import ServerTls

REDIS_URL_ENV = "BACKBONE_TEST_REDIS_URL"
AMQP_URL_ENV = "BACKBONE_TEST_AMQP_URL"
KAFKA_URL_ENV = "BACKBONE_TEST_KAFKA_URL"


def _from_env(kind: str, variable: str) -> BrokerHandle | None:
    url = os.environ.get(variable, "").strip()
    return ExternalBroker(kind, url) if url else None


def _use_containers() -> bool:
    return containers.testcontainers_requested() and containers.docker_reachable()


def provide_redis() -> BrokerHandle:
    """The Redis for this test run (see the module docstring for the order)."""
    external = _from_env("redis", REDIS_URL_ENV)
    if external is not None:
        return external
    if _use_containers():
        return containers.start_redis_container()
    return start_local_redis()


def start_local_redis(
    *,
    durable: bool = False,
    password: str | None = None,
    username: str | None = None,
    tls: ServerTls | None = None,
) -> BrokerHandle:
    """A restartable local ``redis-server``; ``durable`` keeps acknowledged writes across restarts,
    ``username``/``password`` make an ACL user (or ``requirepass`` without a user), ``tls`` serves TLS only."""
    from tests.harness.redis_server import RedisServer

    server = RedisServer(durable=durable, password=password, username=username, tls=tls)
    _start_or_close(server)
    return server


def provide_rabbitmq() -> BrokerHandle:
    """The RabbitMQ for this test run (see the module docstring for the order)."""
    external = _from_env("rabbitmq", AMQP_URL_ENV)
    if external is not None:
        return external
    if _use_containers():
        return containers.start_rabbitmq_container()
    return start_local_rabbitmq()


def start_local_rabbitmq(
    *, user: tuple[str, str] | None = None, tls: ServerTls | None = None
) -> BrokerHandle:
    """A restartable local RabbitMQ node (its own epmd, cookie and data dir); ``user`` replaces
    ``guest``, ``tls`` makes it TLS-only."""
    from tests.harness.rabbitmq_server import RabbitMQServer

    server = RabbitMQServer(user=user, tls=tls)
    _start_or_close(server)
    return server


def provide_kafka() -> BrokerHandle:
    """The Kafka-protocol broker for this test run (see the module docstring for the order)."""
    external = _from_env("kafka", KAFKA_URL_ENV)
    if external is not None:
        return external
    if _use_containers():
        return containers.start_kafka_container()
    return start_local_kafka()


def start_local_kafka(*, advertised_port: int | None = None, authentication: bool = False) -> BrokerHandle:
    """A restartable local Tansu broker (memory storage: a restart empties it).

    ``advertised_port`` makes it tell clients to connect to another port (a ``TcpProxy`` in front of it);
    ``authentication`` makes it require a SASL login.
    """
    from tests.harness.tansu_server import TansuServer

    server = TansuServer(advertised_port=advertised_port, authentication=authentication)
    _start_or_close(server)
    return server


def _start_or_close(server: BrokerHandle) -> None:
    try:
        server.start()
    except BaseException:
        server.close()
        raise


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]
