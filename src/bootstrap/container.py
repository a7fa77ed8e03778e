"""The dependency-injector container: the one place that knows every layer.

``build_container(settings)`` gives a ready container. Tests override providers with in-memory
implementations (``container.broker.override(providers.Object(MemoryBroker(clock)))``,
``container.ledger.override(...)``) before the first call. Domain and application code get their
collaborators through constructors only; nothing outside this module uses ``@inject``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dependency_injector import containers, providers

from adapters.outbound.json_lines import JsonLinesSink
from adapters.outbound.ledgers import InMemoryLedger, JsonLinesLedger
from adapters.outbound.notification_senders import InMemoryNotificationSender, JsonLinesNotificationSender
from adapters.outbound.slack_clients import InMemorySlackClient, JsonLinesSlackClient
from adapters.outbound.slack_webhook import SlackWebhookClient
from application.clock import system_clock
from application.payments import PaymentCompletedHandler
from bootstrap.brokers import create_broker
from bootstrap.queues import QueueHandle, QueueHandles
from bootstrap.settings import Settings, SlackSettings
from bootstrap.topology import Topology
from bootstrap.wiring import HandlerTable, WorkerFactory, all_job_types
from domain.notifications import handlers as notification_handlers
from domain.notifications.jobs import BROADCAST_QUEUE, EMAIL_QUEUE, PUSH_QUEUE, SMS_QUEUE
from domain.notifications.ports import EmailSender, PushSender, SmsSender
from domain.notifications.service import NotificationQueueService
from domain.slack import handlers as slack_handlers
from domain.slack.jobs import ALERTS_QUEUE, MESSAGES_QUEUE
from domain.slack.service import SlackQueueService
from domain.transactions import handlers as transaction_handlers
from domain.transactions.jobs import TRANSACTION_PROCESSING_QUEUE
from domain.transactions.service import TransactionQueueService


def _queue(handles: QueueHandles, name: str) -> QueueHandle:
    return handles.handle(name)


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


def _email(sender: EmailSender) -> EmailSender:
    return sender


def _sms(sender: SmsSender) -> SmsSender:
    return sender


def _push(sender: PushSender) -> PushSender:
    return sender


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    config = providers.Configuration(strict=True)
    clock = providers.Object(system_clock)

    # --- queues -------------------------------------------------------------------------------
    topology = providers.Singleton(Topology.from_overrides, settings.provided.queues)
    broker = providers.Singleton(create_broker, settings.provided.broker, clock)
    job_types = providers.Singleton(all_job_types)
    queues = providers.Singleton(
        QueueHandles, broker, job_types, topology, config.payload_limit_bytes, config.json_depth_limit
    )

    transaction_queue = providers.Factory(_queue, queues, TRANSACTION_PROCESSING_QUEUE)
    email_queue = providers.Factory(_queue, queues, EMAIL_QUEUE)
    sms_queue = providers.Factory(_queue, queues, SMS_QUEUE)
    push_queue = providers.Factory(_queue, queues, PUSH_QUEUE)
    broadcast_queue = providers.Factory(_queue, queues, BROADCAST_QUEUE)
    slack_messages_queue = providers.Factory(_queue, queues, MESSAGES_QUEUE)
    slack_alerts_queue = providers.Factory(_queue, queues, ALERTS_QUEUE)

    # --- outbound ports -----------------------------------------------------------------------
    notification_sender = providers.Selector(
        config.outbound.sender,
        console=providers.Singleton(JsonLinesNotificationSender, providers.Factory(_console_sink)),
        file=providers.Singleton(
            JsonLinesNotificationSender,
            providers.Factory(_file_sink, config.outbound.outbox_dir, "notifications.jsonl"),
        ),
        memory=providers.Singleton(InMemoryNotificationSender),
    )
    email_sender = providers.Singleton(_email, notification_sender)
    sms_sender = providers.Singleton(_sms, notification_sender)
    push_sender = providers.Singleton(_push, notification_sender)
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

    # --- domain services and the payment flow --------------------------------------------------
    transaction_service = providers.Singleton(TransactionQueueService, transaction_queue)
    notification_service = providers.Singleton(
        NotificationQueueService,
        email_queue=email_queue,
        sms_queue=sms_queue,
        push_queue=push_queue,
        broadcast_queue=broadcast_queue,
    )
    slack_service = providers.Singleton(
        SlackQueueService, messages_queue=slack_messages_queue, alerts_queue=slack_alerts_queue
    )
    payment_completed_handler = providers.Singleton(
        PaymentCompletedHandler, notification_service, slack_service, transaction_service, clock
    )

    # --- handlers and workers -----------------------------------------------------------------
    handlers = providers.Singleton(
        HandlerTable,
        job_types,
        providers.Singleton(transaction_handlers.build_handlers, ledger),
        providers.Singleton(notification_handlers.build_handlers, email_sender, sms_sender, push_sender),
        providers.Singleton(slack_handlers.build_handlers, slack_client, config.slack.alerts_channel),
    )
    workers = providers.Singleton(WorkerFactory, queues, handlers, settings.provided.worker)


def config_values(settings: Settings) -> dict[str, Any]:
    """The plain values the ``Configuration`` provider holds (secrets stay in ``settings``)."""
    values = settings.model_dump(mode="json", exclude={"broker", "slack"})
    values["slack"] = {
        "alerts_channel": settings.slack.alerts_channel,
        "timeout_ms": settings.slack.timeout_ms,
    }
    values["broker"] = {"scheme": settings.broker.scheme}
    values["slack_client"] = (
        "webhook" if settings.slack.webhook_url is not None else settings.outbound.sender.value
    )
    return values


def build_container(settings: Settings) -> Container:
    container = Container(settings=providers.Object(settings))
    container.config.from_dict(config_values(settings))
    return container


async def shutdown(container: Container) -> None:
    """Close every queue handle and the broker (only if they were ever created)."""
    handles: QueueHandles = container.queues()
    await handles.close()
