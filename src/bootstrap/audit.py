"""The audit log's wiring (ADR 0024): the store for the broker URL's scheme, and the hook.

``create_audit_store`` imports the store of the chosen broker only (as ``bootstrap.brokers``
does for adapters) and gives it the same broker options; ``build_audit_hook`` returns the
``AuditHook`` every queue reports its admin actions to, or ``None`` when ``audit.enabled`` is off.
"""

from __future__ import annotations

import importlib
from typing import Any

from adapters.outbound.audit_json_lines import JsonLinesAuditSink
from application.audit import AuditHook, AuditSink, AuditStore, LifecycleAuditHook
from application.broker import BrokerOptionError
from application.clock import Clock, system_clock
from bootstrap.brokers import broker_options, broker_scheme
from bootstrap.settings import AuditSettings, BrokerSettings, SettingsError
from domain.queue.errors import BrokerNotSupportedError, InvalidOptionError

AUDIT_STORES: dict[str, tuple[str, str]] = {
    "memory": ("adapters.memory.audit_store", "MemoryAuditStore"),
    "redis": ("adapters.redis.audit_store", "RedisAuditStore"),
    "rediss": ("adapters.redis.audit_store", "RedisAuditStore"),
    "amqp": ("adapters.rabbitmq.audit_store", "RabbitMQAuditStore"),
    "amqps": ("adapters.rabbitmq.audit_store", "RabbitMQAuditStore"),
    "kafka": ("adapters.kafka.audit_store", "KafkaAuditStore"),
}


def create_audit_store(
    broker: BrokerSettings, audit: AuditSettings, clock: Clock = system_clock
) -> AuditStore:
    """The audit store on the broker of ``broker.url`` (connects on first use)."""
    scheme = broker_scheme(broker.url)
    entry = AUDIT_STORES.get(scheme)
    if entry is None:
        raise BrokerNotSupportedError(f"no audit store for {scheme}:// brokers")
    store_type: Any = getattr(importlib.import_module(entry[0]), entry[1])
    if scheme == "memory":
        memory: AuditStore = store_type(retention_ms=audit.retention_ms, clock=clock)
        return memory
    try:
        store: AuditStore = store_type.from_url(
            broker.url, broker_options(broker), retention_ms=audit.retention_ms, clock=clock
        )
    except BrokerOptionError as exc:
        raise SettingsError(f"broker.options.{exc.option}", exc.rule) from None
    except InvalidOptionError as exc:
        raise SettingsError(f"broker.{exc.field}", exc.rule) from None
    return store


def build_audit_hook(
    audit: AuditSettings, store: AuditStore, clock: Clock = system_clock
) -> AuditHook | None:
    """The hook that records every admin action in ``store`` (and ``audit.file``), or ``None``."""
    if not audit.enabled:
        return None
    mirrors: list[AuditSink] = [JsonLinesAuditSink(audit.file)] if audit.file else []
    kind = LifecycleAuditHook if audit.lifecycle else AuditHook
    return kind(store, mirrors, actor=audit.actor, clock=clock)
