"""TLS and authentication on RabbitMQ: a TLS-only node (``listeners.tcp = none``, ``listeners.ssl``)
that requires a client certificate (``ssl_options.verify = verify_peer``,
``fail_if_no_peer_cert = true``), with one non-guest user and no ``guest``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bootstrap.settings import BrokerSettings
from tests.harness.brokers import start_local_rabbitmq
from tests.harness.ports import LOOPBACK
from tests.harness.tcp_proxy import TcpProxy
from tests.harness.tls import Pki, make_pki
from tests.security.tls_smoke import TlsAuthSmoke, TlsSite, assert_one_clear_line, refusal

pytestmark = [pytest.mark.broker, pytest.mark.slow]

USER = "backbone-app"
PASSWORD = "tls-rabbit-pass-77c0"  # the test's secret: must never be printed


def _settings(url: str, pki: Pki, **overrides: object) -> BrokerSettings:
    values: dict[str, object] = {
        "url": url,
        "connect_timeout_ms": 3000,
        "operation_timeout_ms": 5000,
        "tls_ca_file": str(pki.ca_file),
        "tls_cert_file": str(pki.client.cert_file),
        "tls_key_file": str(pki.client.key_file),
    }
    values.update(overrides)
    return BrokerSettings(**values)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(Path(tmp_path_factory.mktemp("rabbitmq-pki")))


@pytest.fixture(scope="module")
def site(pki: Pki) -> Iterator[TlsSite]:
    node = start_local_rabbitmq(user=(USER, PASSWORD), tls=pki.server_tls(verify_clients=True))
    expired_tls = pki.server_tls(verify_clients=False, server=pki.expired_server)
    expired_front = TcpProxy.start(LOOPBACK, node.port, tls=expired_tls.server_context())
    try:
        url = node.url
        yield TlsSite(
            good=_settings(url, pki),
            other_ca=_settings(url, pki, tls_ca_file=str(pki.other_ca_file)),
            expired=_settings(url.replace(f":{node.port}/", f":{expired_front.port}/"), pki),
            wrong_password=_settings(url.replace(PASSWORD, "not-the-password"), pki),
            no_ca_file=_settings(url, pki, tls_ca_file=None),
            secrets=(PASSWORD, *pki.key_material()),
            password_refusal="authentication refused",
        )
    finally:
        expired_front.close()
        node.close()


class TestRabbitMQOverTls(TlsAuthSmoke):
    async def test_a_client_without_a_certificate_is_refused_in_one_line(self, site: TlsSite) -> None:
        no_client_cert = site.good.model_copy(update={"tls_cert_file": None, "tls_key_file": None})
        error = await refusal(no_client_cert)
        assert_one_clear_line(error, "unavailable")

    async def test_guest_cannot_log_in(self, site: TlsSite) -> None:
        guest = site.good.model_copy(
            update={"url": site.good.url.replace(f"{USER}:{PASSWORD}@", "guest:guest@")}
        )
        error = await refusal(guest)
        assert_one_clear_line(error, "authentication refused")
