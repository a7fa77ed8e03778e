"""Exact dedup across producers and bounded start-up on RabbitMQ (ADR 0028; its producers still
read their adds back: a confirm names no offset)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from adapters.rabbitmq import RabbitMQBroker, RabbitMQSettings
from application.broker import Broker
from tests.harness.handle import BrokerHandle
from tests.integration.stateless_producers import ProducerDedupAndStartUpBehaviours


@pytest.fixture
async def make_broker(rabbitmq_broker: BrokerHandle) -> AsyncIterator[Callable[..., Broker]]:
    made: list[RabbitMQBroker] = []

    def make(operation_timeout_ms: int | None = None) -> Broker:
        settings = RabbitMQSettings(connect_timeout_ms=3_000)
        if operation_timeout_ms is not None:
            settings = RabbitMQSettings(connect_timeout_ms=3_000, operation_timeout_ms=operation_timeout_ms)
        broker = RabbitMQBroker(rabbitmq_broker.url, settings)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        await broker.close()


class TestRabbitMQProducers(ProducerDedupAndStartUpBehaviours):
    pass
