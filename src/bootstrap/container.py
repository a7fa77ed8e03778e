"""The dependency-injector container: the one place that knows every layer.

``build_container(settings)`` gives a ready container. Tests override providers with in-memory
implementations (``container.broker.override(providers.Object(MemoryBroker(clock)))``,
``container.ledger.override(...)``) before the first call. Domain and application code get their
collaborators through constructors only; nothing outside this module uses ``@inject``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from dependency_injector import containers, providers

from adapters.outbound.json_lines import JsonLinesSink
from adapters.outbound.ledgers import InMemoryLedger, JsonLinesLedger
from adapters.outbound.message_stores import InMemoryMessageStore
from adapters.outbound.notification_senders import InMemoryNotificationSender, JsonLinesNotificationSender
from adapters.outbound.slack_clients import InMemorySlackClient, JsonLinesSlackClient
from adapters.outbound.slack_webhook import SlackWebhookClient
from application.audit import AuditHook, AuditStore
from application.clock import system_clock
from application.hooks import Hook, Hooks
from bootstrap.audit import build_audit_hook, create_audit_store
from bootstrap.brokers import create_broker
from bootstrap.encryption import payload_encryption
from bootstrap.modules import ModuleCatalog, ModuleRuntime, catalog_job_types, load_hooks, load_modules
from bootstrap.queues import QueueHandles
from bootstrap.scheduling import schedule_table
from bootstrap.settings import Settings, SlackSettings
from bootstrap.topology import Topology
from bootstrap.wiring import HandlerTable, WorkerFactory
from domain.queue.module import DomainModule

T = TypeVar("T")


def _console_sink() -> JsonLinesSink:
    return JsonLinesSink(sys.stdout)  # looked up at call time: tests capture stdout


def _file_sink(directory: str, name: str) -> JsonLinesSink:
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    return JsonLinesSink(path / name)


def _ledger_file(path: str) -> JsonLinesLedger:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return JsonLinesLedger(Path(path))


def _webhook_client(settings: SlackSettings) -> SlackWebhookClient:
    if settings.webhook_url is None:
        raise ValueError("slack.webhook_url: must be set to use the webhook client")
    return SlackWebhookClient(settings.webhook_url.get_secret_value(), timeout_s=settings.timeout_ms / 1000)


def _hooks(entries: Sequence[str], given: Sequence[Hook], audit: AuditHook | None) -> Hooks:
    hooks = load_hooks(entries, given)
    return Hooks([*hooks, audit] if audit is not None else hooks)


def _same(value: T) -> T:
    return value  # its own provider, so the demo can wrap one channel without touching the others


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    config = providers.Configuration(strict=True)
    clock = providers.Object(system_clock)

    # --- modules and queues ---------------------------------------------------------------------
    enabled_modules = providers.Singleton(load_modules, settings.provided.app.modules)
    given_hooks = providers.Object(())  # hooks passed in code (``Backbone.open(hooks=...)``)
    # the audit log of admin actions, on the broker itself (ADR 0024)
    audit_store = providers.Singleton(
        create_audit_store, settings.provided.broker, settings.provided.audit, clock
    )
    audit_hook = providers.Singleton(build_audit_hook, settings.provided.audit, audit_store, clock)
    hooks = providers.Singleton(_hooks, settings.provided.app.hooks, given_hooks, audit_hook)
    catalog = providers.Singleton(ModuleCatalog, enabled_modules)
    topology = providers.Singleton(Topology.from_modules, catalog, settings.provided.queues)
    broker = providers.Singleton(create_broker, settings.provided.broker, clock)
    job_types = providers.Singleton(catalog_job_types, catalog)
    encryption = providers.Singleton(payload_encryption, settings.provided.encryption)  # ADR 0023
    schedules = providers.Singleton(schedule_table, catalog)  # the modules' schedules (ADR 0020)
    queues = providers.Singleton(
        QueueHandles,
        broker,
        job_types,
        topology,
        config.payload_limit_bytes,
        max_json_depth=config.json_depth_limit,
        job_types_of=catalog.provided.job_types_for,
        hooks=hooks,
        encryption=encryption,
    )

    # --- outbound ports: what the sample modules' handlers are built from ----------------------
    notification_sender = providers.Selector(
        config.outbound.sender,
        console=providers.Singleton(JsonLinesNotificationSender, providers.Factory(_console_sink)),
        file=providers.Singleton(
            JsonLinesNotificationSender,
            providers.Factory(_file_sink, config.outbound.outbox_dir, "notifications.jsonl"),
        ),
        memory=providers.Singleton(InMemoryNotificationSender),
    )
    email_sender = providers.Singleton(_same, notification_sender)
    sms_sender = providers.Singleton(_same, notification_sender)
    push_sender = providers.Singleton(_same, notification_sender)
    slack_client = providers.Selector(
        config.slack_client,
        webhook=providers.Singleton(_webhook_client, settings.provided.slack),
        console=providers.Singleton(JsonLinesSlackClient, providers.Factory(_console_sink)),
        file=providers.Singleton(
            JsonLinesSlackClient, providers.Factory(_file_sink, config.outbound.outbox_dir, "slack.jsonl")
        ),
        memory=providers.Singleton(InMemorySlackClient),
    )
    ledger = providers.Selector(
        config.outbound.ledger,
        memory=providers.Singleton(InMemoryLedger),
        file=providers.Singleton(_ledger_file, config.outbound.ledger_path),
    )
    message_store = providers.Singleton(InMemoryMessageStore)  # seed 003's cleanup (domain.messages)
    # What ``ModuleContext.dependency(key, type)`` hands a module: each entry is the provider itself,
    # called only when a module asks (overrides made before that are honoured).
    module_dependencies = providers.Dict(
        transaction_ledger=ledger.provider,
        email_sender=email_sender.provider,
        sms_sender=sms_sender.provider,
        push_sender=push_sender.provider,
        slack_client=slack_client.provider,
        slack_alerts_channel=config.slack.alerts_channel.provider,
        message_store=message_store.provider,
    )

    # --- the modules' services, handlers and workers --------------------------------------------
    modules = providers.Singleton(ModuleRuntime, catalog, queues, module_dependencies, clock)
    handlers = providers.Singleton(HandlerTable, job_types, catalog, modules)
    workers = providers.Singleton(
        WorkerFactory, queues, handlers, settings.provided.worker, hooks=hooks.provided.hooks
    )


def config_values(settings: Settings) -> dict[str, Any]:
    """The plain values the ``Configuration`` provider holds (secrets stay in ``settings``)."""
    values = settings.model_dump(mode="json", exclude={"broker", "slack", "encryption"})
    values["slack"] = {
        "alerts_channel": settings.slack.alerts_channel,
        "timeout_ms": settings.slack.timeout_ms,
    }
    values["slack_client"] = (
        "webhook" if settings.slack.webhook_url is not None else settings.outbound.sender.value
    )
    return values


def build_container(
    settings: Settings, modules: Sequence[DomainModule] | None = None, hooks: Sequence[Hook] = ()
) -> Container:
    """The container for ``settings``; ``modules`` (declarations, not import paths) replace
    ``settings.app.modules`` when given, and ``hooks`` come after ``settings.app.hooks`` (the
    in-process API, tests)."""
    container = Container(settings=providers.Object(settings))
    container.config.from_dict(config_values(settings))
    if modules is not None:
        container.enabled_modules.override(providers.Object(tuple(modules)))
    if hooks:
        container.given_hooks.override(providers.Object(tuple(hooks)))
    return container


async def shutdown(container: Container) -> None:
    """Close every queue handle, the broker and the audit store (only if they were ever created)."""
    handles: QueueHandles = container.queues()
    await handles.close()
    hook: AuditHook | None = container.audit_hook()
    if hook is not None:
        await hook.close()  # lifecycle entries still on their way first, then the store
    else:
        store: AuditStore = container.audit_store()
        await store.close()
