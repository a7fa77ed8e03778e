"""Producers that hold no queue state and bounded start-up on Kafka (ADR 0028)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from adapters.kafka import KafkaBroker, KafkaSettings
from application.broker import Broker
from tests.harness.kafka_site import KafkaSite
from tests.integration.stateless_producers import (
    ProducerDedupAndStartUpBehaviours,
    StatelessProducerBehaviours,
)


@pytest.fixture
async def make_broker(kafka_site: KafkaSite) -> AsyncIterator[Callable[..., Broker]]:
    made: list[KafkaBroker] = []

    def make(operation_timeout_ms: int | None = None) -> Broker:
        settings = KafkaSettings(url=kafka_site.url)
        if operation_timeout_ms is not None:
            settings = KafkaSettings(url=kafka_site.url, operation_timeout_ms=operation_timeout_ms)
        broker = KafkaBroker(settings)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        await broker.close()


class TestKafkaStatelessProducers(StatelessProducerBehaviours, ProducerDedupAndStartUpBehaviours):
    pass
