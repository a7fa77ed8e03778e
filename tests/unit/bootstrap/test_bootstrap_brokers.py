"""One construction route: settings -> ``Broker.from_url(url, clock=, options=)`` for every scheme."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from dependency_injector import providers
from pydantic import SecretStr
from tests.harness.handle import BrokerHandle

from adapters.kafka import KafkaBroker, KafkaSettings
from adapters.memory import MemoryBroker
from adapters.rabbitmq import RabbitMQBroker, RabbitMQSettings
from adapters.redis import RedisBroker, RedisSettings
from application.broker import DEFAULT_KEY_PREFIX, Broker
from application.clock import ManualClock
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from bootstrap.broker_table import BROKERS, SUPPORTED_SCHEMES
from bootstrap.brokers import create_broker
from bootstrap.cli import main
from bootstrap.container import Container
from bootstrap.settings import BrokerSettings, Settings, SettingsError
from bootstrap.topology import Topology
from domain.queue.errors import BrokerNotSupportedError
from domain.queue.options import QueueDefaults

URLS = {
    "memory": "memory://",
    "redis": "redis://app:pw@127.0.0.1:6379/0",
    "rediss": "rediss://127.0.0.1:6380/0",
    "amqp": "amqp://guest:guest@127.0.0.1:5672/%2F",
    "amqps": "amqps://guest:guest@127.0.0.1:5671/%2F",
    "kafka": "kafka://127.0.0.1:9092",
}


def test_a_memory_url_gives_the_embedded_broker() -> None:
    broker = create_broker(BrokerSettings(url="memory://"))
    assert isinstance(broker, MemoryBroker)
    assert broker.url == "memory://"


def test_the_settings_accept_exactly_the_schemes_the_broker_table_serves() -> None:
    assert SUPPORTED_SCHEMES == tuple(BROKERS) == tuple(URLS)
    assert all(entry.load().schemes == entry.schemes for entry in BROKERS.values())


def test_an_unknown_scheme_raises_a_clear_error_without_the_password() -> None:
    unchecked = BrokerSettings.model_construct(url="nats://app:hunter2@nats:4222")
    with pytest.raises(BrokerNotSupportedError) as caught:
        create_broker(unchecked)
    message = str(caught.value)
    assert "unknown broker URL scheme" in message
    assert "nats://app:***@nats:4222" in message
    assert "hunter2" not in message


@pytest.mark.parametrize("scheme", URLS)
def test_every_broker_is_given_the_clock(scheme: str) -> None:
    clock = ManualClock()
    assert create_broker(BrokerSettings(url=URLS[scheme]), clock).clock is clock


@pytest.mark.parametrize("scheme", URLS)
def test_an_unknown_option_is_refused_naming_it_and_the_known_ones(scheme: str) -> None:
    with pytest.raises(SettingsError) as caught:
        create_broker(BrokerSettings(url=URLS[scheme], options={"bogus_knob": 1}))
    assert caught.value.field == "broker.options.bogus_knob"
    assert "is not an option of" in caught.value.rule
    assert "known:" in caught.value.rule


def test_the_known_options_named_in_the_refusal_are_the_adapters_own() -> None:
    with pytest.raises(SettingsError) as caught:
        create_broker(BrokerSettings(url=URLS["redis"], options={"max_connection": 8}))
    assert "max_connections" in caught.value.rule
    assert "key_prefix" in caught.value.rule


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_a_shared_setting_the_broker_cannot_honour_is_refused(scheme: str) -> None:
    with pytest.raises(SettingsError) as caught:
        create_broker(BrokerSettings(url=URLS[scheme], sasl_username="svc"))
    assert caught.value.field == "broker.sasl_username"


def test_the_memory_broker_ignores_the_shared_connection_settings() -> None:
    settings = BrokerSettings(url="memory://", key_prefix="shop", connect_timeout_ms=1500, tls_verify=False)
    assert isinstance(create_broker(settings), MemoryBroker)


def test_an_option_that_repeats_a_shared_setting_is_refused_pointing_at_the_setting() -> None:
    with pytest.raises(SettingsError) as caught:
        create_broker(BrokerSettings(url=URLS["redis"], options={"key_prefix": "shop"}))
    assert caught.value.field == "broker.options.key_prefix"
    assert "broker.key_prefix" in caught.value.rule


def test_a_value_the_adapter_refuses_is_a_settings_error_naming_the_setting() -> None:
    with pytest.raises(SettingsError) as caught:
        create_broker(BrokerSettings(url=URLS["redis"], options={"max_connections": 0}))
    assert caught.value.field == "broker.options.max_connections"


def test_a_redis_url_gives_the_redis_broker_with_the_shared_settings_and_options() -> None:
    broker = create_broker(
        BrokerSettings(
            url=URLS["redis"],
            key_prefix="shop",
            connect_timeout_ms=1500,
            tls_verify=False,
            options={"max_connections": 8},
        )
    )
    assert isinstance(broker, RedisBroker)
    assert broker.url == "redis://app:***@127.0.0.1:6379/0"
    expected = RedisSettings(
        url=URLS["redis"], key_prefix="shop", connect_timeout_ms=1500, tls_verify=False, max_connections=8
    )
    assert broker.settings == expected


def test_an_amqp_url_gives_the_rabbitmq_broker_with_the_shared_settings_and_options() -> None:
    broker = create_broker(
        BrokerSettings(
            url=URLS["amqp"], key_prefix="shop", operation_timeout_ms=2500, options={"heartbeat_s": 5}
        )
    )
    assert isinstance(broker, RabbitMQBroker)
    assert broker.settings == RabbitMQSettings(key_prefix="shop", operation_timeout_ms=2500, heartbeat_s=5)


def test_a_kafka_url_gives_the_kafka_broker_with_sasl_credentials_from_the_settings() -> None:
    broker = create_broker(
        BrokerSettings(
            url="kafka://url-user:url-pw@127.0.0.1:9092",
            sasl_mechanism="SCRAM-SHA-256",
            sasl_username="svc",
            sasl_password=SecretStr("s3cret"),
            options={"security_protocol": "SASL_PLAINTEXT"},
        )
    )
    assert isinstance(broker, KafkaBroker)
    assert broker.settings.sasl_mechanism == "SCRAM-SHA-256"
    assert broker.settings.sasl_credentials == ("svc", "s3cret")
    assert "s3cret" not in repr(broker.settings)


@pytest.mark.parametrize(
    ("url", "opened_directly"),
    [
        (URLS["redis"], lambda: RedisBroker(URLS["redis"])),
        (URLS["amqp"], lambda: RabbitMQBroker(URLS["amqp"])),
        (URLS["kafka"], lambda: KafkaBroker(URLS["kafka"])),
    ],
)
def test_a_broker_opened_directly_has_the_settings_a_broker_built_from_settings_has(
    url: str, opened_directly: Callable[[], Broker]
) -> None:
    from_settings = create_broker(BrokerSettings(url=url))
    assert from_settings.settings == opened_directly().settings  # type: ignore[attr-defined]


def test_every_adapter_and_the_settings_default_to_one_key_prefix() -> None:
    prefixes = {
        BrokerSettings().key_prefix,
        RedisSettings(url=URLS["redis"]).key_prefix,
        RabbitMQSettings().key_prefix,
        KafkaSettings(url=URLS["kafka"]).key_prefix,
    }
    assert prefixes == {DEFAULT_KEY_PREFIX}


def test_a_job_factory_without_defaults_and_a_queue_outside_the_table_get_the_same_defaults() -> None:
    factory = JobFactory("reports-export", JobTypes(strict=False))
    assert factory.defaults == Topology().for_queue("reports-export").defaults == QueueDefaults()


@pytest.mark.broker
def test_a_job_added_through_a_directly_opened_redis_queue_is_counted_by_backbone_stats(
    redis_broker: BrokerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    queue_name = f"direct-{uuid.uuid4().hex[:8]}"
    asyncio.run(_add_one_job_directly(redis_broker.url, queue_name))
    capsys.readouterr()

    code = main(["stats", queue_name, "--broker", redis_broker.url, "--json"])

    assert code == 0
    assert json.loads(capsys.readouterr().out) == [
        {
            "queue": queue_name,
            "waiting": 1,
            "delayed": 0,
            "active": 0,
            "completed": 0,
            "failed": 0,
            "paused": False,
        }
    ]


async def _add_one_job_directly(url: str, queue_name: str) -> None:
    """What a program does without the CLI's settings: the adapter's broker with its defaults."""
    broker = RedisBroker(url)
    try:
        queue = await broker.open_queue(JobFactory(queue_name, JobTypes(strict=False)))
        await queue.add("reports.export.v1", {"month": "2026-11"})
    finally:
        await broker.close()


def test_the_broker_flag_replaces_only_the_url_of_the_config_files_broker_settings(tmp_path: Path) -> None:
    config = tmp_path / "backbone.toml"
    config.write_text('[broker]\nurl = "redis://127.0.0.1:6379/0"\nkey_prefix = "shop"\n', encoding="utf-8")
    seen: list[Settings] = []

    def hook(container: Container) -> None:
        seen.append(container.settings())
        container.broker.override(providers.Object(MemoryBroker()))

    code = main(
        ["stats", "transaction-processing", "--config", str(config), "--broker", "memory://"],
        container_hook=hook,
    )

    assert code == 0
    [settings] = seen
    assert (settings.broker.url, settings.broker.key_prefix) == ("memory://", "shop")
