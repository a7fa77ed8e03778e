"""One payment event, worked off by real workers on the memory broker, down to the outbound adapters."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from adapters.outbound.ledgers import InMemoryLedger
from adapters.outbound.notification_senders import InMemoryNotificationSender
from adapters.outbound.slack_clients import InMemorySlackClient
from application.payments import EventMetadata, PaymentCompletedV1
from application.worker import HandlerRegistry, Worker, WorkerOptions
from domain.notifications import handlers as notification_handlers
from domain.queue.job import Job, JobState
from domain.slack import handlers as slack_handlers
from domain.transactions import handlers as transaction_handlers
from domain.transactions.model import EntryKind


async def run_until_done(world, queue_name: str, registry: HandlerRegistry, job_id: str) -> Job:
    queue = world.queues[queue_name]
    worker = Worker(queue, registry, WorkerOptions(block_ms=20))
    task = asyncio.create_task(worker.run())
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            job = await queue.get_job(job_id)
            if job is not None and job.state in (JobState.COMPLETED, JobState.FAILED):
                return job
            await asyncio.sleep(0.01)
        raise AssertionError(f"{job_id} did not finish on {queue_name}")
    finally:
        await worker.stop()
        await task


async def test_a_high_value_payment_ends_as_an_email_an_alert_and_a_ledger_settlement(payment_world) -> None:
    ledger, sender, slack = InMemoryLedger(), InMemoryNotificationSender(), InMemorySlackClient()
    registry = HandlerRegistry(
        payment_world.job_types,
        {
            **notification_handlers.build_handlers(sender, sender, sender),
            **slack_handlers.build_handlers(slack),
            **transaction_handlers.build_handlers(ledger),
        },
    )
    event = PaymentCompletedV1(
        payment_id="pay_e2e",
        user_id="user_e2e",
        amount_minor=200_000,
        currency="USD",
        merchant_name="ACME",
        settlement_date=datetime(2025, 8, 1, tzinfo=UTC),  # already due: settles at once
    )
    jobs = await payment_world.handler.handle(
        event, EventMetadata(correlation_id="e2e-1", tenant_id="org-acme")
    )
    assert jobs.alert is not None

    done = [
        await run_until_done(payment_world, "notification-email", registry, jobs.email.id),
        await run_until_done(payment_world, "slack-alerts", registry, jobs.alert.id),
        await run_until_done(payment_world, "transaction-processing", registry, jobs.settlement.id),
    ]

    assert [job.state for job in done] == [JobState.COMPLETED] * 3
    assert [(m.user_id, m.correlation_id) for m in sender.emails] == [("user_e2e", "e2e-1")]
    assert [(m.channel, m.correlation_id) for m in slack.posted] == [("#alerts", "e2e-1")]
    assert "high_value_payment" in slack.posted[0].text
    assert [(e.kind, e.tx_id, e.amount_minor, e.correlation_id) for e in ledger.entries] == [
        (EntryKind.SETTLEMENT, "pay_e2e", 200_000, "e2e-1")
    ]
