"""RabbitMQ adapter pieces that need no broker: URLs, names, settings, the barrier marker."""

from __future__ import annotations

import pytest

from adapters.rabbitmq import RabbitMQBroker, RabbitMQSettings
from adapters.rabbitmq.connection import connection_parameters
from adapters.rabbitmq.stream_log import MARKER_SIZE, barrier_marker
from adapters.rabbitmq.topology import QueueTopology, leader_queue_arguments, log_stream_arguments
from application.broker import BrokerOptionError
from application.replication.event_codec import decode_record
from domain.queue.errors import BrokerUnavailableError

SECRET = "pa55-word"


def test_url_gives_host_port_vhost_and_credentials() -> None:
    params = connection_parameters(f"amqp://app:{SECRET}@rabbit.internal:5673/orders", RabbitMQSettings())
    assert (params.host, params.port, params.virtual_host) == ("rabbit.internal", 5673, "orders")
    assert params.credentials.username == "app"


def test_encoded_slash_is_the_default_vhost() -> None:
    assert (
        connection_parameters("amqp://guest:guest@localhost:5672/%2F", RabbitMQSettings()).virtual_host == "/"
    )


def test_amqps_url_turns_tls_on() -> None:
    params = connection_parameters("amqps://u:p@localhost:5671/%2F", RabbitMQSettings(tls_verify=False))
    assert params.ssl_options is not None


def test_connect_timeout_bounds_the_whole_handshake() -> None:
    params = connection_parameters("amqp://localhost/%2F", RabbitMQSettings(connect_timeout_ms=1500))
    assert params.stack_timeout == 1.5
    assert params.connection_attempts == 1


@pytest.mark.parametrize("url", [f"redis://u:{SECRET}@localhost:6379/0", f"http://u:{SECRET}@localhost/"])
def test_a_non_amqp_url_is_refused_without_showing_its_password(url: str) -> None:
    with pytest.raises(BrokerUnavailableError) as raised:
        RabbitMQBroker(url)
    assert SECRET not in str(raised.value)


def test_broker_url_is_shown_without_its_password() -> None:
    assert (
        RabbitMQBroker(f"amqp://app:{SECRET}@localhost:5672/%2F").url == "amqp://app:***@localhost:5672/%2F"
    )


def test_options_fill_the_adapter_settings() -> None:
    broker = RabbitMQBroker.from_url(
        "amqp://localhost/%2F", options={"connect_timeout_ms": 1234, "key_prefix": "orders"}
    )
    assert (broker.settings.connect_timeout_ms, broker.settings.key_prefix) == (1234, "orders")


def test_an_option_the_adapter_does_not_know_is_refused_naming_it() -> None:
    with pytest.raises(BrokerOptionError) as raised:
        RabbitMQBroker.from_url("amqp://localhost/%2F", options={"unrelated": 1})
    assert raised.value.option == "unrelated"
    assert "heartbeat_s" in raised.value.rule


def test_the_nested_replication_settings_are_not_a_flat_option() -> None:
    with pytest.raises(BrokerOptionError):
        RabbitMQBroker.from_url("amqp://localhost/%2F", options={"replication": 1})


def test_every_queue_has_its_own_streams_and_election_queue() -> None:
    topology = QueueTopology.of("jq", "payments")
    assert (topology.log_stream, topology.snapshot_stream, topology.leader_queue) == (
        "jq.payments.log",
        "jq.payments.snapshots",
        "jq.payments.leader",
    )


def test_the_log_is_a_stream_with_retention_and_the_election_queue_has_one_active_consumer() -> None:
    settings = RabbitMQSettings(log_max_age="1D")
    assert log_stream_arguments(settings)["x-queue-type"] == "stream"
    assert log_stream_arguments(settings)["x-max-age"] == "1D"
    assert leader_queue_arguments(settings)["x-single-active-consumer"] is True


def test_a_barrier_marker_is_an_engine_record_with_no_events() -> None:
    marker = barrier_marker("0" * 32)
    decoded = decode_record(marker)
    assert decoded.entries == ()
    assert len(marker) == MARKER_SIZE
