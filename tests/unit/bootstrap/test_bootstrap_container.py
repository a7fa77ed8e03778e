"""Container wiring, end state: jobs land on the right queue with the seed's options, and workers
built by the container run them through the configured outbound ports."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from dependency_injector import providers

from adapters.memory import MemoryBroker
from adapters.outbound.ledgers import InMemoryLedger, JsonLinesLedger
from adapters.outbound.notification_senders import InMemoryNotificationSender
from adapters.outbound.slack_clients import InMemorySlackClient
from adapters.outbound.slack_webhook import SlackWebhookClient
from application.payments import EventMetadata, PaymentCompletedHandler, PaymentCompletedV1
from application.worker import Worker
from bootstrap.container import Container, build_container, shutdown
from bootstrap.modules import UnhandledQueueError
from bootstrap.settings import load_settings
from domain.queue.errors import BrokerUnavailableError
from domain.queue.job import JobState
from domain.queue.metadata import JobMetadata
from domain.transactions.jobs import SETTLEMENT_JOB, SettleTransaction
from domain.transactions.service import TransactionQueueService

DEADLINE_S = 5.0


def _container(**settings: object) -> Container:
    container = build_container(load_settings(**settings))
    container.broker.override(providers.Singleton(MemoryBroker))
    container.ledger.override(providers.Singleton(InMemoryLedger))
    container.notification_sender.override(providers.Singleton(InMemoryNotificationSender))
    container.slack_client.override(providers.Singleton(InMemorySlackClient))
    return container


async def _run_until(workers: list[Worker], done: Callable[[], bool]) -> None:
    """Run the workers until ``done()`` holds (polled, with a deadline), then stop them."""
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        async with asyncio.timeout(DEADLINE_S):
            while True:
                if done():
                    break
                await asyncio.sleep(0.005)
    finally:
        for worker in workers:
            await worker.stop()
        await asyncio.gather(*tasks)


async def test_a_settlement_lands_on_its_queue_and_a_container_worker_records_it_in_the_ledger() -> None:
    container = _container()
    job = (
        await container.modules()
        .service(TransactionQueueService)
        .enqueue_settlement(
            SettleTransaction(tx_id="tx-1", amount_minor=1200, currency="EUR"),
            JobMetadata(correlation_id="c-1"),
        )
    )
    assert job.queue == "transaction-processing"
    assert job.name == SETTLEMENT_JOB
    assert job.options.timeout == 30_000  # seed 002 QUEUE_DEFAULT_TIMEOUT from the topology
    assert job.options.remove_on_complete.count == 50  # seed 002 removeOnComplete
    worker = await container.workers().build("transaction-processing", block_ms=20)
    ledger: InMemoryLedger = container.ledger()
    await _run_until([worker], lambda: len(ledger.entries) == 1)
    assert ledger.entries[0].tx_id == "tx-1"
    assert ledger.entries[0].correlation_id == "c-1"
    await shutdown(container)


async def test_a_high_value_payment_fans_out_to_email_alert_and_delayed_settlement() -> None:
    container = _container()
    event = PaymentCompletedV1(
        payment_id="pay-1",
        user_id="user-1",
        amount_minor=250_000,
        currency="EUR",
        merchant_name="Shop",
        settlement_date=dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=300),
    )
    flow = (
        await container.modules()
        .service(PaymentCompletedHandler)
        .handle(event, EventMetadata("corr-9", "acme", "user-1"))
    )
    assert flow.email.queue == "notification-email"
    assert flow.alert is not None and flow.alert.queue == "slack-alerts"
    assert flow.settlement.queue == "transaction-processing"
    assert flow.settlement.state is JobState.DELAYED
    workers = [
        await container.workers().build(name, block_ms=20)
        for name in ("notification-email", "slack-alerts", "transaction-processing")
    ]
    sender: InMemoryNotificationSender = container.notification_sender()
    slack: InMemorySlackClient = container.slack_client()
    ledger: InMemoryLedger = container.ledger()
    await _run_until(workers, lambda: bool(sender.emails and slack.posted and ledger.entries))
    assert sender.emails[0].correlation_id == "corr-9"
    assert slack.posted[0].correlation_id == "corr-9"
    assert ledger.entries[0].tx_id == "pay-1"
    await shutdown(container)


def test_workers_take_concurrency_from_the_topology_and_flags_win() -> None:
    container = _container(queues={"slack-alerts": {"concurrency": 3}})
    factory = container.workers()
    assert factory.options_for("notification-email").concurrency == 10
    assert factory.options_for("slack-alerts").concurrency == 3
    assert factory.options_for("slack-alerts", concurrency=7).concurrency == 7
    assert factory.options_for("batch-message-sending").concurrency == 2


def test_each_queue_registry_holds_the_handlers_of_the_jobs_routed_to_it() -> None:
    container = _container()
    table = container.handlers()
    assert table.registry_for("notification-email").names() == ["notification.email.send.v1"]
    assert table.registry_for("transaction-processing").names() == [
        "transaction.refund.v1",
        "transaction.settlement.v1",
        "transaction.validation.v1",
    ]


def test_a_queue_no_enabled_module_handles_gets_no_registry_and_the_error_names_the_known_queues() -> None:
    table = _container().handlers()
    with pytest.raises(UnhandledQueueError) as refused:
        table.registry_for("data-processing")
    assert "'data-processing'" in str(refused.value)
    assert "notification-email" in str(refused.value) and "transaction-processing" in str(refused.value)


def test_one_handle_per_queue_is_shared_by_every_service() -> None:
    container = _container()
    runtime = container.modules()
    assert runtime.queue("notification-email") is container.queues().handle("notification-email")
    assert container.queues().factory("notification-email").defaults.attempts == 5


def test_a_configured_webhook_url_selects_the_slack_webhook_client() -> None:
    container = build_container(load_settings(slack={"webhook_url": "http://127.0.0.1:9/hook"}))
    assert isinstance(container.slack_client(), SlackWebhookClient)


def test_without_a_webhook_the_console_sender_is_the_default() -> None:
    container = build_container(load_settings())
    assert type(container.slack_client()).__name__ == "JsonLinesSlackClient"
    assert type(container.notification_sender()).__name__ == "JsonLinesNotificationSender"


async def test_the_file_ledger_is_chosen_by_settings_and_written(tmp_path: Path) -> None:
    path = tmp_path / "ledger" / "entries.jsonl"
    container = build_container(load_settings(outbound={"ledger": "file", "ledger_path": str(path)}))
    container.broker.override(providers.Singleton(MemoryBroker))
    ledger = container.ledger()
    assert isinstance(ledger, JsonLinesLedger)
    await (
        container.modules()
        .service(TransactionQueueService)
        .enqueue_settlement(SettleTransaction(tx_id="tx-2", amount_minor=10, currency="USD"), JobMetadata())
    )
    worker = await container.workers().build("transaction-processing", block_ms=20)
    await _run_until([worker], lambda: path.exists() and path.stat().st_size > 0)
    assert [entry.tx_id for entry in await ledger.entries_for("tx-2")] == ["tx-2"]
    await shutdown(container)


async def test_building_services_connects_nothing_until_the_first_queue_call() -> None:
    closed = MemoryBroker()
    await closed.close()
    container = _container()
    container.broker.override(providers.Object(closed))
    service = container.modules().service(TransactionQueueService)  # no broker I/O yet
    with pytest.raises(BrokerUnavailableError, match="memory:// unavailable"):
        await service.enqueue_settlement(
            SettleTransaction(tx_id="tx-3", amount_minor=1, currency="EUR"), JobMetadata()
        )
