"""The broker test harness: real brokers for tests, no Docker needed.

Fixtures (``tests/conftest.py``, session-scoped, started only when a test asks for them):
``redis_broker``, ``durable_redis_broker``, ``rabbitmq_broker``, ``kafka_broker`` -> a ``BrokerHandle``
with ``.url`` and, when the harness owns the process, ``.restart()`` / ``await .arestart()`` /
``.stop()`` / ``.start()`` (same port, same data dir); ``tcp_proxy(host, port)`` -> a ``TcpProxy``.

Where brokers come from (``brokers.py``): ``BACKBONE_TEST_REDIS_URL`` / ``BACKBONE_TEST_AMQP_URL`` /
``BACKBONE_TEST_KAFKA_URL``; else testcontainers with ``BACKBONE_TESTCONTAINERS=1`` and Docker; else a
local process (``redis_server.py``, ``rabbitmq_server.py``, ``tansu_server.py``) on free loopback
ports with a temporary data dir, installed by ``scripts/install-brokers.sh``.

Outages: ``broker.restart()`` (a real stop and start), or a proxy that drops connections without
stopping the broker: ``proxied.behind_proxy(broker)`` / ``proxied.start_local_kafka_behind_proxy()``
with ``.cut()`` / ``.restore()``.

Every wait has a deadline and failures carry the broker's log tail; processes are stopped by fixture
finalizers, with an ``atexit`` backstop (and SIGTERM turned into a clean pytest exit).
"""
