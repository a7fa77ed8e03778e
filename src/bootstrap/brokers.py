"""The ``Broker`` for a URL: chosen by scheme, adapters imported only when chosen.

``memory://`` is always there. ``redis://``/``rediss://``, ``amqp://``/``amqps://`` and ``kafka://``
import their adapter package lazily; a build without it raises ``BrokerNotSupportedError`` with a
clear message. URLs reach logs and errors only through ``redact_url``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from application.broker import Broker
from application.clock import Clock, system_clock
from application.redaction import redact_url
from bootstrap.settings import BrokerSettings, SettingsError
from domain.queue.errors import BrokerNotSupportedError

logger = logging.getLogger(__name__)

BrokerBuilder = Callable[[BrokerSettings, Clock], Broker]


def _memory(settings: BrokerSettings, clock: Clock) -> Broker:
    from adapters.memory import MemoryBroker

    return MemoryBroker(clock)


def _adapter_attr(scheme: str, module: str, attribute: str) -> Any:
    """``module.attribute`` or a ``BrokerNotSupportedError`` saying this build lacks it."""
    try:
        package = importlib.import_module(module)
    except ImportError as exc:
        raise BrokerNotSupportedError(
            f"{scheme}:// brokers are not available in this build ({module} cannot be imported: {exc})"
        ) from exc
    found = getattr(package, attribute, None)
    if found is None:
        raise BrokerNotSupportedError(
            f"{scheme}:// brokers are not available in this build ({module}.{attribute} is missing)"
        )
    return found


def _redis(settings: BrokerSettings, clock: Clock) -> Broker:
    broker_cls = _adapter_attr(settings.scheme, "adapters.redis", "RedisBroker")
    settings_cls = _adapter_attr(settings.scheme, "adapters.redis", "RedisSettings")
    redis_settings = _adapter_settings(
        settings,
        settings_cls,
        url=settings.url,
        connect_timeout_ms=settings.connect_timeout_ms,
        operation_timeout_ms=settings.operation_timeout_ms,
        prefix=settings.key_prefix,
        ssl_ca_certs=settings.tls_ca_file,
        ssl_certfile=settings.tls_cert_file,
        ssl_keyfile=settings.tls_key_file,
        ssl_check_hostname=settings.tls_verify,
        **settings.options,
    )
    broker: Broker = broker_cls(redis_settings, clock=clock)
    return broker


def _rabbitmq(settings: BrokerSettings, clock: Clock) -> Broker:
    broker_cls = _adapter_attr(settings.scheme, "adapters.rabbitmq", "RabbitMQBroker")
    return _from_url(broker_cls, settings)


def _kafka(settings: BrokerSettings, clock: Clock) -> Broker:
    broker_cls = _adapter_attr(settings.scheme, "adapters.kafka", "KafkaBroker")
    settings_cls = _adapter_attr(settings.scheme, "adapters.kafka", "KafkaSettings")
    knobs: dict[str, Any] = {
        "url": settings.url,  # SASL credentials travel as the URL's user:password
        "prefix": settings.key_prefix,
        "connect_timeout_ms": settings.connect_timeout_ms,
        "operation_timeout_ms": settings.operation_timeout_ms,
        "ssl_cafile": settings.tls_ca_file,
        "ssl_certfile": settings.tls_cert_file,
        "ssl_keyfile": settings.tls_key_file,
    }
    if settings.sasl_mechanism is not None:
        knobs["sasl_mechanism"] = settings.sasl_mechanism
    knobs.update(settings.options)  # e.g. security_protocol = "SASL_SSL", fetch_max_wait_ms
    broker: Broker = broker_cls(_adapter_settings(settings, settings_cls, **knobs), clock=clock)
    return broker


def _adapter_settings(settings: BrokerSettings, settings_cls: Any, **knobs: Any) -> Any:
    """The adapter's own settings object; an option it does not know is a settings error."""
    try:
        return settings_cls(**knobs)
    except TypeError as exc:
        raise SettingsError(
            "broker.options", f"must only hold options the {settings.scheme}:// adapter knows ({exc})"
        ) from None


def _from_url(broker_cls: Any, settings: BrokerSettings) -> Broker:
    """Adapters that expose ``from_settings(url, **knobs)``; else ``Broker(url)``."""
    knobs: dict[str, Any] = {
        "connect_timeout_ms": settings.connect_timeout_ms,
        "operation_timeout_ms": settings.operation_timeout_ms,
        "prefix": settings.key_prefix,
        "tls_ca_file": settings.tls_ca_file,
        "tls_cert_file": settings.tls_cert_file,
        "tls_key_file": settings.tls_key_file,
        "tls_verify": settings.tls_verify,
        "sasl_mechanism": settings.sasl_mechanism,
        "sasl_username": settings.sasl_username,
        "sasl_password": settings.sasl_password.get_secret_value() if settings.sasl_password else None,
        **settings.options,
    }
    factory = getattr(broker_cls, "from_settings", None)
    broker: Broker = factory(settings.url, **knobs) if factory is not None else broker_cls(settings.url)
    return broker


BUILDERS: dict[str, BrokerBuilder] = {
    "memory": _memory,
    "redis": _redis,
    "rediss": _redis,
    "amqp": _rabbitmq,
    "amqps": _rabbitmq,
    "kafka": _kafka,
}


def broker_scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def create_broker(settings: BrokerSettings, clock: Clock = system_clock) -> Broker:
    """The ``Broker`` for ``settings.url``. Raises ``BrokerNotSupportedError`` for unknown schemes."""
    scheme = broker_scheme(settings.url)
    builder = BUILDERS.get(scheme)
    if builder is None:
        known = ", ".join(f"{name}://" for name in BUILDERS)
        raise BrokerNotSupportedError(
            f"unknown broker URL scheme in {redact_url(settings.url)} (known: {known})"
        )
    broker = builder(settings, clock)
    logger.info("broker selected url=%s adapter=%s", redact_url(settings.url), type(broker).__name__)
    return broker
