"""Which ``Broker`` serves which URL scheme, built from each adapter's own ``schemes``.

Adding an adapter is one line here (its ``Broker`` class); the settings' list of accepted
schemes, ``SUPPORTED_SCHEMES``, is derived from this table.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.kafka import KafkaBroker
from adapters.memory import MemoryBroker
from adapters.rabbitmq import RabbitMQBroker
from adapters.redis import RedisBroker
from application.broker import Broker

BROKER_TYPES: tuple[type[Broker], ...] = (MemoryBroker, RedisBroker, RabbitMQBroker, KafkaBroker)

BROKERS: Mapping[str, type[Broker]] = {scheme: broker for broker in BROKER_TYPES for scheme in broker.schemes}

SUPPORTED_SCHEMES: tuple[str, ...] = tuple(BROKERS)
