"""TLS and SASL on the Kafka adapter, against Tansu 0.6.0.

What Tansu 0.6.0 supports (docs/security.md): ``--cert``/``--key`` for a TLS listener exist, but its
command line puts both in one exclusive argument group, so they cannot be given together, and
``--cert`` alone is accepted but silently serves plain TCP: TLS cannot be switched on. Here TLS is
served by a loopback TLS front (a ``TcpProxy`` with the server certificate) that Tansu advertises,
so the adapter's ``SSL`` and ``SASL_SSL`` paths run against a real Kafka-protocol broker.
``--authentication`` makes Tansu require SASL (SCRAM-SHA-256/512; PLAIN is not offered), but users
are created over the Kafka protocol, which an authenticating broker refuses before a login, and
memory storage (the only one in this build) keeps no users across a restart: no login can succeed,
so only the refusal of a wrong password is checked on Tansu.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bootstrap.settings import BrokerSettings
from tests.harness.ports import LOOPBACK
from tests.harness.proxied import ProxiedBroker, start_local_kafka_behind_proxy
from tests.harness.tcp_proxy import TcpProxy
from tests.harness.tls import Pki, make_pki
from tests.security.tls_smoke import TlsAuthSmoke, TlsSite

pytestmark = pytest.mark.broker

USER = "backbone-app"
PASSWORD = "tls-kafka-pass-3b9d"  # the test's secret: must never be printed


def _settings(url: str, pki: Pki, **overrides: object) -> BrokerSettings:
    values: dict[str, object] = {
        "url": url,
        "connect_timeout_ms": 3000,
        "operation_timeout_ms": 5000,
        "tls_ca_file": str(pki.ca_file),
        "options": {"security_protocol": "SSL"},
    }
    values.update(overrides)
    return BrokerSettings(**values)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(Path(tmp_path_factory.mktemp("kafka-pki")))


@pytest.fixture(scope="module")
def site(pki: Pki) -> Iterator[TlsSite]:
    started: list[ProxiedBroker | TcpProxy] = []
    try:
        broker = start_local_kafka_behind_proxy(tls=pki.server_tls(verify_clients=False))
        started.append(broker)
        authenticating = start_local_kafka_behind_proxy(
            tls=pki.server_tls(verify_clients=False), authentication=True
        )
        started.append(authenticating)
        expired_tls = pki.server_tls(verify_clients=False, server=pki.expired_server)
        expired_front = TcpProxy.start(LOOPBACK, broker.broker.port, tls=expired_tls.server_context())
        started.append(expired_front)
        url = broker.url
        yield TlsSite(
            good=_settings(url, pki),
            other_ca=_settings(url, pki, tls_ca_file=str(pki.other_ca_file)),
            expired=_settings(f"kafka://{LOOPBACK}:{expired_front.port}", pki),
            wrong_password=_settings(
                f"kafka://{USER}:{PASSWORD}@{LOOPBACK}:{authenticating.proxy.port}",
                pki,
                sasl_mechanism="SCRAM-SHA-512",
                options={"security_protocol": "SASL_SSL"},
            ),
            no_ca_file=_settings(url, pki, tls_ca_file=None),
            secrets=(PASSWORD, *pki.key_material()),
            password_refusal=f"SASL SCRAM-SHA-512 login as '{USER}' failed",
        )
    finally:
        for item in reversed(started):
            item.close()


class TestKafkaOverTls(TlsAuthSmoke):
    pass
