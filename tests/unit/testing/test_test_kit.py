"""The test kit as a team uses it: its own module, the ``backbone_kit`` fixture of the shipped pytest
plugin, ``run_until_idle``/``run_due`` and the manual clock. Nothing here sleeps for a backoff."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel

from backbone import (
    Backoff,
    BackoffType,
    DomainModule,
    IGenericQueue,
    JobContext,
    JobOptions,
    JobSpec,
    JobState,
    ModuleContext,
    QueueDefaults,
    QueueSpec,
    RetryableError,
)
from backbone.testing import BackboneTestKit, ManualClock, QueuesStillBusyError

INVOICES = "billing-invoices"
SEND = "billing.invoice.v1"
MINUTE_MS = 60_000


class Invoice(BaseModel):
    customer: str
    amount_minor: int
    failures: int = 0  # how many attempts fail before one succeeds
    hang: bool = False


class InvoiceService:
    def __init__(self, queue: IGenericQueue) -> None:
        self._queue = queue

    async def send(self, invoice: Invoice, **options: Any) -> str:
        job = await self._queue.add(SEND, invoice, JobOptions(**options) if options else None)
        return job.id


def billing_handlers(ctx: ModuleContext) -> dict[str, Any]:
    async def send_invoice(invoice: Invoice, job: JobContext) -> dict[str, Any]:
        if invoice.hang:
            await asyncio.Event().wait()
        if job.attempt <= invoice.failures:
            raise RetryableError(f"mail server busy (attempt {job.attempt})")
        return {"customer": invoice.customer, "sent_at": ctx.clock()}

    return {SEND: send_invoice}


BILLING = DomainModule(
    "billing",
    queues=[
        QueueSpec(
            INVOICES,
            defaults=QueueDefaults(
                attempts=3,
                backoff=Backoff(type=BackoffType.EXPONENTIAL, delay=MINUTE_MS, max_delay=None, jitter=0.0),
            ),
        )
    ],
    jobs=[JobSpec(SEND, Invoice, queue=INVOICES)],
    handlers=billing_handlers,
    services={InvoiceService: lambda ctx: InvoiceService(ctx.queue(INVOICES))},
)


@pytest.fixture
def backbone_modules() -> list[DomainModule]:
    return [BILLING]


async def test_a_job_added_by_a_service_is_run_by_its_handler_when_the_test_runs_until_idle(
    backbone_kit: BackboneTestKit,
) -> None:
    job_id = await backbone_kit.service(InvoiceService).send(Invoice(customer="ada", amount_minor=1200))
    assert (await backbone_kit.job(INVOICES, job_id)).state is JobState.WAITING  # nothing runs by itself

    await backbone_kit.run_until_idle()

    done = await backbone_kit.job(INVOICES, job_id)
    assert done.state is JobState.COMPLETED
    assert done.return_value == {"customer": "ada", "sent_at": backbone_kit.clock.now_ms}


async def test_a_job_retried_with_backoff_completes_and_the_clock_moved_by_exactly_the_backoffs(
    backbone_kit: BackboneTestKit,
) -> None:
    started_at = backbone_kit.clock.now_ms
    job_id = await backbone_kit.service(InvoiceService).send(
        Invoice(customer="ada", amount_minor=1, failures=2)
    )

    await backbone_kit.run_until_idle()

    done = await backbone_kit.job(INVOICES, job_id)
    assert (done.state, done.attempts_made) == (JobState.COMPLETED, 3)
    assert backbone_kit.clock.now_ms - started_at == MINUTE_MS + 2 * MINUTE_MS  # 1 min, then 2 min
    assert done.return_value == {"customer": "ada", "sent_at": started_at + 3 * MINUTE_MS}


async def test_run_due_leaves_a_retry_delayed_until_the_test_moves_the_clock_to_its_due_time(
    backbone_kit: BackboneTestKit,
) -> None:
    job_id = await backbone_kit.service(InvoiceService).send(
        Invoice(customer="ada", amount_minor=1, failures=1)
    )
    await backbone_kit.run_due()
    assert (await backbone_kit.job(INVOICES, job_id)).state is JobState.DELAYED

    backbone_kit.clock.advance(MINUTE_MS - 1)
    await backbone_kit.run_due()
    assert (await backbone_kit.job(INVOICES, job_id)).state is JobState.DELAYED

    backbone_kit.clock.advance(1)
    await backbone_kit.run_due()
    done = await backbone_kit.job(INVOICES, job_id)
    assert (done.state, done.attempts_started) == (JobState.COMPLETED, 2)


async def test_a_job_delayed_by_an_hour_runs_when_the_test_runs_until_idle(
    backbone_kit: BackboneTestKit,
) -> None:
    started_at = backbone_kit.clock.now_ms
    job_id = await backbone_kit.service(InvoiceService).send(
        Invoice(customer="ada", amount_minor=1), delay=60 * MINUTE_MS
    )

    await backbone_kit.run_until_idle()

    done = await backbone_kit.job(INVOICES, job_id)
    assert done.state is JobState.COMPLETED
    assert backbone_kit.clock.now_ms == started_at + 60 * MINUTE_MS


async def test_a_job_failing_every_attempt_ends_in_the_dead_letters(backbone_kit: BackboneTestKit) -> None:
    job_id = await backbone_kit.service(InvoiceService).send(
        Invoice(customer="ada", amount_minor=1, failures=9)
    )

    await backbone_kit.run_until_idle()

    [letter] = await backbone_kit.dead_letters(INVOICES)
    assert (letter.job_id, letter.attempts_made) == (job_id, 3)
    assert "mail server busy (attempt 3)" in (letter.last_error or letter.reason)


async def test_run_until_idle_names_the_busy_queue_when_its_time_is_up(backbone_kit: BackboneTestKit) -> None:
    await backbone_kit.service(InvoiceService).send(Invoice(customer="ada", amount_minor=1, hang=True))

    with pytest.raises(QueuesStillBusyError, match=f"{INVOICES}: waiting=0 delayed=0 active=1"):
        await backbone_kit.run_until_idle(timeout_s=0.3)


async def test_the_clock_fixture_is_the_kit_clock(
    backbone_kit: BackboneTestKit, backbone_clock: ManualClock
) -> None:
    assert backbone_kit.clock is backbone_clock
    backbone_clock.advance(5)
    job_id = await backbone_kit.service(InvoiceService).send(Invoice(customer="ada", amount_minor=1))
    assert (await backbone_kit.job(INVOICES, job_id)).created_at == backbone_clock.now_ms
