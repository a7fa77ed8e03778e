"""Which ``Broker`` serves which URL scheme, and the extra that installs its client.

Adding an adapter is one row here; the settings' list of accepted schemes, ``SUPPORTED_SCHEMES``,
is derived from this table, and a unit test checks every row against its class's own ``schemes``.
An adapter package is imported only when its scheme is chosen, so a process imports only the
broker client it uses (start-up time), and the core installs without any broker client: a URL
whose client is missing fails with one line naming the extra to install.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from application.broker import Broker
from domain.queue.errors import BrokerNotSupportedError

DISTRIBUTION = "messaging-backbone"


@dataclass(frozen=True, slots=True)
class BrokerEntry:
    schemes: tuple[str, ...]
    module: str  # the adapter package
    class_name: str  # its ``Broker`` class
    extra: str | None  # the pip extra that installs the broker client (None: nothing to install)

    def load(self) -> type[Broker]:
        """The ``Broker`` class, importing its adapter package now."""
        try:
            package = importlib.import_module(self.module)
        except ImportError as exc:
            missing = (exc.name or self.module).partition(".")[0]
            if self.extra is None or missing == self.module.partition(".")[0]:
                raise
            raise BrokerNotSupportedError(
                f"{self.schemes[0]}:// needs the {missing!r} client, which is not installed: "
                f"pip install '{DISTRIBUTION}[{self.extra}]'"
            ) from None
        broker_type = getattr(package, self.class_name)
        if not (isinstance(broker_type, type) and issubclass(broker_type, Broker)):
            raise TypeError(f"{self.module}.{self.class_name} is not a Broker")
        return broker_type


BROKER_TABLE: tuple[BrokerEntry, ...] = (
    BrokerEntry(("memory",), "adapters.memory", "MemoryBroker", None),
    BrokerEntry(("redis", "rediss"), "adapters.redis", "RedisBroker", "redis"),
    BrokerEntry(("amqp", "amqps"), "adapters.rabbitmq", "RabbitMQBroker", "rabbitmq"),
    BrokerEntry(("kafka",), "adapters.kafka", "KafkaBroker", "kafka"),
)

BROKERS: dict[str, BrokerEntry] = {scheme: entry for entry in BROKER_TABLE for scheme in entry.schemes}

SUPPORTED_SCHEMES: tuple[str, ...] = tuple(BROKERS)
