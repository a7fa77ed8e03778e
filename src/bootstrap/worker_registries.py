"""Which ``WorkerRegistry`` serves which broker (ADR 0025), imported only for the broker in use."""

from __future__ import annotations

import importlib

from application.broker import Broker
from application.presence.registry import WorkerRegistry

REGISTRIES: dict[str, tuple[str, str]] = {
    "memory": ("adapters.memory.worker_registry", "MemoryWorkerRegistry"),
    "redis": ("adapters.redis.worker_registry", "RedisWorkerRegistry"),
    "rediss": ("adapters.redis.worker_registry", "RedisWorkerRegistry"),
    "amqp": ("adapters.rabbitmq.worker_registry", "RabbitMQWorkerRegistry"),
    "amqps": ("adapters.rabbitmq.worker_registry", "RabbitMQWorkerRegistry"),
    "kafka": ("adapters.kafka.worker_registry", "KafkaWorkerRegistry"),
}


def worker_registry(broker: Broker) -> WorkerRegistry:
    """The registry on ``broker``'s own connections (close it before the broker)."""
    scheme = type(broker).schemes[0]
    entry = REGISTRIES.get(scheme)
    if entry is None:
        raise LookupError(f"no worker registry for {scheme}:// brokers")
    module, class_name = entry
    registry_type = getattr(importlib.import_module(module), class_name)
    registry: WorkerRegistry = registry_type(broker)
    return registry
