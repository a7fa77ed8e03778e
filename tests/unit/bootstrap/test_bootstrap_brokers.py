from __future__ import annotations

import pytest

from adapters.memory import MemoryBroker
from bootstrap.brokers import BUILDERS, create_broker
from bootstrap.settings import BrokerSettings, SettingsError
from domain.queue.errors import BrokerNotSupportedError


def test_a_memory_url_gives_the_embedded_broker() -> None:
    broker = create_broker(BrokerSettings(url="memory://"))
    assert isinstance(broker, MemoryBroker)
    assert broker.url == "memory://"


def test_every_documented_scheme_has_a_builder() -> None:
    assert set(BUILDERS) == {"memory", "redis", "rediss", "amqp", "amqps", "kafka"}


def test_an_unknown_scheme_raises_a_clear_error_without_the_password() -> None:
    unchecked = BrokerSettings.model_construct(url="nats://app:hunter2@nats:4222")
    with pytest.raises(BrokerNotSupportedError) as caught:
        create_broker(unchecked)
    message = str(caught.value)
    assert "unknown broker URL scheme" in message
    assert "nats://app:***@nats:4222" in message
    assert "hunter2" not in message


def test_an_adapter_missing_from_the_build_is_reported_as_not_available(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def import_fails(name: str) -> object:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr("bootstrap.brokers.importlib.import_module", import_fails)
    with pytest.raises(BrokerNotSupportedError, match=r"kafka:// brokers are not available in this build"):
        create_broker(BrokerSettings(url="kafka://127.0.0.1:9092"))


def test_a_redis_url_gives_the_redis_broker_with_the_generic_knobs_passed_through() -> None:
    broker = create_broker(
        BrokerSettings(url="redis://app:pw@127.0.0.1:6379/0", key_prefix="shop", connect_timeout_ms=1500)
    )
    assert type(broker).__name__ == "RedisBroker"
    assert broker.url == "redis://app:***@127.0.0.1:6379/0"
    assert broker.settings.prefix == "shop"  # type: ignore[attr-defined]
    assert broker.settings.connect_timeout_ms == 1500  # type: ignore[attr-defined]


def test_an_option_the_adapter_does_not_know_is_a_settings_error() -> None:
    with pytest.raises(SettingsError) as caught:
        create_broker(BrokerSettings(url="redis://127.0.0.1:6379/0", options={"bogus": 1}))
    assert caught.value.field == "broker.options"
