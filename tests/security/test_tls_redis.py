"""TLS and ACL authentication on Redis: a TLS-only ``redis-server`` (``port 0``, ``tls-port``) that
requires a client certificate (``tls-auth-clients yes``) and has one ACL user (``default`` off)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bootstrap.settings import BrokerSettings
from tests.harness.brokers import start_local_redis
from tests.harness.ports import LOOPBACK
from tests.harness.tcp_proxy import TcpProxy
from tests.harness.tls import Pki, make_pki
from tests.security.tls_smoke import TlsAuthSmoke, TlsSite, assert_one_clear_line, refusal

pytestmark = pytest.mark.broker

USER = "backbone-app"
PASSWORD = "tls-redis-pass-5e1f"  # the test's secret: must never be printed


def _settings(url: str, pki: Pki, **overrides: object) -> BrokerSettings:
    values: dict[str, object] = {
        "url": url,
        "connect_timeout_ms": 3000,
        "operation_timeout_ms": 3000,
        "tls_ca_file": str(pki.ca_file),
        "tls_cert_file": str(pki.client.cert_file),
        "tls_key_file": str(pki.client.key_file),
    }
    values.update(overrides)
    return BrokerSettings(**values)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(Path(tmp_path_factory.mktemp("redis-pki")))


@pytest.fixture(scope="module")
def site(pki: Pki) -> Iterator[TlsSite]:
    server = start_local_redis(username=USER, password=PASSWORD, tls=pki.server_tls(verify_clients=True))
    expired_front = TcpProxy.start(
        LOOPBACK,
        server.port,
        tls=pki.server_tls(verify_clients=False, server=pki.expired_server).server_context(),
    )
    try:
        url = server.url
        yield TlsSite(
            good=_settings(url, pki),
            other_ca=_settings(url, pki, tls_ca_file=str(pki.other_ca_file)),
            expired=_settings(url.replace(f":{server.port}/", f":{expired_front.port}/"), pki),
            wrong_password=_settings(url.replace(PASSWORD, "not-the-password"), pki),
            no_ca_file=_settings(url, pki, tls_ca_file=None),
            secrets=(PASSWORD, *pki.key_material()),
            password_refusal="invalid username-password pair",
        )
    finally:
        expired_front.close()
        server.close()


class TestRedisOverTls(TlsAuthSmoke):
    async def test_a_client_without_a_certificate_is_refused_in_one_line(self, site: TlsSite) -> None:
        # TLS 1.3: the server checks the client certificate after the client finished its handshake,
        # so the client sees either the server's alert or a reset: one line, but not always the cause.
        no_client_cert = site.good.model_copy(update={"tls_cert_file": None, "tls_key_file": None})
        error = await refusal(no_client_cert)
        assert_one_clear_line(error, "unavailable")
