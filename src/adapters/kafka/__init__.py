"""Kafka adapter: the queue state machine replicated over a single-partition topic per queue."""

from adapters.kafka.broker import KafkaBroker
from adapters.kafka.settings import KafkaSettings

__all__ = ["KafkaBroker", "KafkaSettings"]
