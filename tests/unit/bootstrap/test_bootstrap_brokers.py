from __future__ import annotations

import pytest

from adapters.memory import MemoryBroker
from bootstrap.brokers import BUILDERS, create_broker
from bootstrap.settings import BrokerSettings
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
