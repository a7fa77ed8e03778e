"""RabbitMQ adapter (pika): the replicated queue state machine over RabbitMQ streams.

See ``docs/adapters/rabbitmq.md`` and the ADR "rabbitmq-stream-replicated-queue".
"""

from adapters.rabbitmq.broker import RabbitMQBroker
from adapters.rabbitmq.settings import RabbitMQSettings

__all__ = ["RabbitMQBroker", "RabbitMQSettings"]
