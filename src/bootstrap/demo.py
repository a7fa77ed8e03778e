"""``backbone demo``: the payment-completed scenario end to end on the configured broker.

A few hundred ``PaymentCompletedV1`` events (seeded randomness) go through the real
``PaymentCompletedHandler``: an email per payment, a Slack alert above 100000 minor units, and a
settlement delayed until its settlement date (dates are a few "days" ahead, one demo day lasting
``ms_per_day``). Workers for the three involved queues run in this process. A deterministic flaky
wrapper makes some emails fail once (retried), some fail on every attempt (attempts exhausted) and
some be refused for good (dead-lettered at once); some Slack posts fail once. A few events are
replayed to show that nothing is enqueued twice. When every queue is drained the summary is printed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dependency_injector import providers

from adapters.outbound.flaky import FailureKind, FailurePlan, FlakyEmailSender, FlakySlackClient
from adapters.outbound.ledgers import InMemoryLedger
from adapters.outbound.notification_senders import InMemoryNotificationSender
from adapters.outbound.slack_clients import InMemorySlackClient
from application.payments import EventMetadata, PaymentCompletedHandler, PaymentCompletedV1
from application.payments.handler import HIGH_VALUE_THRESHOLD_MINOR
from application.queue_backend import QueueBackend
from application.worker import Worker
from bootstrap.cli_common import out
from bootstrap.commands import run_workers
from bootstrap.container import Container
from bootstrap.demo_cleanup import DemoCleanup
from bootstrap.demo_output import JobLogs, job_logs, live_progress
from bootstrap.demo_summary import (
    DemoSummary,
    QueueSummary,
    print_summary,
    print_summary_json,
    refused_for_good,
)
from bootstrap.modules import ModuleRuntime
from bootstrap.queues import QueueHandles
from bootstrap.settings import DemoSettings, SenderKind, Settings, SettingsError
from bootstrap.wiring import WorkerFactory
from domain.notifications.jobs import EMAIL_QUEUE
from domain.notifications.ports import EmailSender
from domain.queue.job import JobState
from domain.slack.jobs import ALERTS_QUEUE
from domain.slack.ports import SlackClient
from domain.transactions.jobs import TRANSACTION_PROCESSING_QUEUE

DEMO_QUEUES = (EMAIL_QUEUE, ALERTS_QUEUE, TRANSACTION_PROCESSING_QUEUE)
MERCHANTS = ("Corner Books", "Blue Bottle", "Nordic Rail", "Atlas Hotels", "Pixel Store", "Green Grocer")
CURRENCIES = ("EUR", "USD", "GBP")
TENANTS = ("acme", "globex", "initech")
POLL_S = 0.01
PUBLISH_SLICE = 20  # events published between two yields to the workers


@dataclass(frozen=True, slots=True)
class DemoOptions:
    payments: int = 300
    seed: int = 7
    ms_per_day: int = 200
    email_transient_failure_rate: float = 0.15
    email_permanent_failure_rate: float = 0.02
    email_exhausting_failure_rate: float = 0.03
    slack_transient_failure_rate: float = 0.2
    replay_rate: float = 0.05
    retry_delay_ms: int = 25
    timeout_s: float = 50.0
    verbose: bool = False  # per-job log lines on the terminal instead of the log file
    log_file: str | None = None  # where they go otherwise (default: a new file in the temp directory)

    @staticmethod
    def from_settings(
        settings: DemoSettings,
        *,
        payments: int | None = None,
        seed: int | None = None,
        verbose: bool = False,
        log_file: str | None = None,
    ) -> DemoOptions:
        values: dict[str, Any] = {**settings.model_dump(), "verbose": verbose, "log_file": log_file}
        if payments is not None:
            values["payments"] = payments
        if seed is not None:
            values["seed"] = seed
        return DemoOptions(**values)

    def validate(self) -> DemoOptions:
        if not 1 <= self.payments <= 100_000:
            raise SettingsError("demo.payments", "must be in 1..100000")
        return self


def make_events(
    options: DemoOptions, now: dt.datetime, run_tag: str = ""
) -> list[tuple[PaymentCompletedV1, EventMetadata]]:
    """Seeded payments: ~15 % above the alert threshold, settlement 0..3 demo days ahead.

    ``run_tag`` goes into every payment id so that a rerun on a persistent broker is not
    deduplicated against the previous run's jobs.
    """
    rng = random.Random(options.seed)
    events = []
    for index in range(options.payments):
        if rng.random() < 0.15:
            amount = rng.randint(HIGH_VALUE_THRESHOLD_MINOR + 1, 2_000_000)
        else:
            amount = rng.randint(199, HIGH_VALUE_THRESHOLD_MINOR)
        days_ahead = rng.randint(0, 3)
        settlement = now + dt.timedelta(milliseconds=days_ahead * options.ms_per_day + rng.randint(0, 50))
        payment_id = f"pay-{options.seed}-{run_tag}{index:05d}"
        event = PaymentCompletedV1(
            payment_id=payment_id,
            user_id=f"user-{rng.randint(1, 500):04d}",
            amount_minor=amount,
            currency=rng.choice(CURRENCIES),
            merchant_name=rng.choice(MERCHANTS),
            settlement_date=settlement,
        )
        meta = EventMetadata(
            correlation_id=f"corr-{payment_id}", tenant_id=rng.choice(TENANTS), user_id=event.user_id
        )
        events.append((event, meta))
    return events


@dataclass(frozen=True, slots=True)
class _DemoOutbound:
    emails: InMemoryNotificationSender | None
    slack: InMemorySlackClient | None


def _install_demo_outbound(container: Container, options: DemoOptions) -> _DemoOutbound:
    """Flaky wrappers around the outbound ports; in-memory ones unless files were asked for."""
    settings: Settings = container.settings()
    if settings.outbound.sender is not SenderKind.FILE:
        container.notification_sender.override(providers.Singleton(InMemoryNotificationSender))
        if settings.slack.webhook_url is None:
            container.slack_client.override(providers.Singleton(InMemorySlackClient))
    seed = options.seed
    email: EmailSender = container.email_sender()
    inner_slack: SlackClient = container.slack_client()
    recorded = _DemoOutbound(
        email if isinstance(email, InMemoryNotificationSender) else None,
        inner_slack if isinstance(inner_slack, InMemorySlackClient) else None,
    )
    plans = (
        FailurePlan(fraction=options.email_permanent_failure_rate, kind=FailureKind.PERMANENT, seed=seed + 1),
        FailurePlan(
            fraction=options.email_exhausting_failure_rate,
            failures_per_message=None,
            retry_delay_ms=options.retry_delay_ms,
            seed=seed + 2,
        ),
        FailurePlan(
            fraction=options.email_transient_failure_rate,
            failures_per_message=1,
            retry_delay_ms=options.retry_delay_ms,
            seed=seed + 3,
        ),
    )
    for plan in plans:
        email = FlakyEmailSender(email, plan)
    slack: SlackClient = FlakySlackClient(
        inner_slack,
        FailurePlan(
            fraction=options.slack_transient_failure_rate,
            failures_per_message=1,
            retry_delay_ms=options.retry_delay_ms,
            seed=seed + 4,
        ),
    )
    container.email_sender.override(providers.Object(email))
    container.slack_client.override(providers.Object(slack))
    return recorded


async def _wait_drained(
    backends: dict[str, QueueBackend],
    summary: DemoSummary,
    started: float,
    timeout_s: float,
    workers_running: asyncio.Task[None],
) -> bool:
    """Poll until every queue has nothing waiting, delayed or active; False on timeout or when the
    workers stopped (SIGINT/SIGTERM)."""
    deadline = started + timeout_s
    pending = set(backends)
    while pending:
        if workers_running.done():
            return False
        for name in list(pending):
            stats = await backends[name].get_stats()
            if stats.waiting == 0 and stats.delayed == 0 and stats.active == 0:
                summary.queues[name].drained_after_s = time.perf_counter() - started
                pending.discard(name)
        if pending:
            if time.perf_counter() > deadline:
                return False
            await asyncio.sleep(POLL_S)
    return True


async def run_demo(container: Container, options: DemoOptions, *, as_json: bool = False) -> DemoSummary:
    """Run the scenario; per-job log lines go to a file (named in the output) unless ``verbose``,
    a terminal shows live progress per queue, and the summary is printed at the end."""
    options.validate()
    with job_logs(options.verbose, options.log_file) as logs:
        summary = await _run_demo(container, options, logs, as_json)
    if as_json:
        print_summary_json(summary, logs.path, logs.lines)
    else:
        print_summary(summary)
        if logs.path is not None:
            out(f"log: {logs.lines} lines (warnings and errors of the jobs) in {logs.path}")
    return summary


async def _run_demo(container: Container, options: DemoOptions, logs: JobLogs, as_json: bool) -> DemoSummary:
    recorded = _install_demo_outbound(container, options)
    runtime: ModuleRuntime = container.modules()
    handler = runtime.service(PaymentCompletedHandler)  # refused (exit 2) unless the sample modules are on
    factory: WorkerFactory = container.workers()
    handles: QueueHandles = container.queues()
    backends = {name: await handles.open(name) for name in DEMO_QUEUES}
    workers: list[Worker] = [
        await factory.build(name, block_ms=100, shutdown_grace_ms=2000) for name in DEMO_QUEUES
    ]

    # The memory broker starts empty; a persistent one may hold an earlier run's jobs.
    persistent = not handles.broker.url.startswith("memory:")
    run_tag = f"{secrets.token_hex(3)}-" if persistent else ""
    cleanup = await DemoCleanup.prepare(container, factory, persistent)  # seed 003's schedule
    running = [*workers, *cleanup.workers]
    events = make_events(options, dt.datetime.now(dt.UTC), run_tag)
    replay_rng = random.Random(options.seed + 99)
    replays = [pair for pair in events if replay_rng.random() < options.replay_rate]
    summary = DemoSummary(
        payments=len(events),
        replayed=len(replays),
        high_value=sum(1 for event, _ in events if event.amount_minor > HIGH_VALUE_THRESHOLD_MINOR),
        queues={name: QueueSummary(name) for name in DEMO_QUEUES},
    )
    if not as_json:
        intro = (
            f"demo: {len(events)} payments (seed {options.seed}, {summary.high_value} above "
            f"{HIGH_VALUE_THRESHOLD_MINOR} minor units, {len(replays)} replayed) on {handles.broker.url}"
        )
        out(intro)
        if logs.path is not None:
            out(f"demo: per-job log lines go to {logs.path} (--verbose prints them here)")
    rows = {worker.queue: _progress_row(summary.queues[worker.queue], worker) for worker in workers}
    started = time.perf_counter()
    workers_started = asyncio.Event()
    runner = asyncio.create_task(run_workers(running, on_started=workers_started.set))
    try:
        async with live_progress(rows, enabled=not as_json):
            await _publish_and_drain(
                options,
                handler,
                [*events, *replays],
                summary,
                backends,
                runner,
                workers_started,
                started,
                on_ready=lambda: cleanup.start(announce=not as_json),
            )
        await cleanup.finish(max(1.0, options.timeout_s - (time.perf_counter() - started)))
    finally:
        await cleanup.stop()
        for worker in running:
            worker.request_stop()
        await runner
    summary.total_s = time.perf_counter() - started
    await _collect(container, recorded, workers, backends, summary, f"pay-{options.seed}-{run_tag}")
    if not as_json:
        cleanup.report()
    return summary


def _progress_row(row: QueueSummary, worker: Worker) -> Any:
    def read() -> tuple[int, int, int, int]:
        m = worker.metrics
        return row.jobs, m.succeeded + m.dead_lettered, m.failed - m.dead_lettered, m.dead_lettered

    return read


async def _publish_and_drain(
    options: DemoOptions,
    handler: PaymentCompletedHandler,
    events: list[tuple[PaymentCompletedV1, EventMetadata]],
    summary: DemoSummary,
    backends: dict[str, QueueBackend],
    runner: asyncio.Task[None],
    workers_started: asyncio.Event,
    started: float,
    *,
    on_ready: Callable[[], None],
) -> None:
    async with asyncio.timeout(options.timeout_s):
        await workers_started.wait()  # signal handlers are in place from here on
    on_ready()
    for index, (event, meta) in enumerate(events):
        if runner.done():  # SIGINT/SIGTERM stopped the workers: stop publishing too
            break
        if index % PUBLISH_SLICE == 0:
            await asyncio.sleep(0)  # an in-memory add never suspends: let the workers run
        flow = await handler.handle(event, meta)
        for job in (flow.email, flow.alert, flow.settlement):
            if job is None:
                continue
            if job.deduplicated:
                summary.deduplicated += 1
                continue
            row = summary.queues[job.queue]
            row.jobs += 1
            if job.state is JobState.DELAYED:
                row.delayed += 1
    summary.drained = await _wait_drained(backends, summary, started, options.timeout_s, runner)


async def _collect(
    container: Container,
    recorded: _DemoOutbound,
    workers: list[Worker],
    backends: dict[str, QueueBackend],
    summary: DemoSummary,
    payment_prefix: str,
) -> None:
    for worker in workers:
        row = summary.queues[worker.queue]
        m = worker.metrics
        row.completed = m.succeeded
        row.dead_lettered = m.dead_lettered
        row.retries = m.failed - m.dead_lettered
    letters = [
        letter
        for letter in await backends[EMAIL_QUEUE].list_dead_letters(limit=100_000)
        if payment_prefix in letter.job_id
    ]
    refused = [dl for dl in letters if refused_for_good(dl.reason)]
    exhausted = [dl for dl in letters if not refused_for_good(dl.reason)]
    summary.dead_letter_kinds = {"refused for good": len(refused), "attempts exhausted": len(exhausted)}
    for letter in (*refused[:2], *exhausted[:2]):
        summary.dead_letter_reasons.append(
            f"{letter.job_id} after {letter.attempts_started} attempt(s): {letter.reason[:160]}"
        )
    if recorded.emails is not None:
        summary.emails_delivered = len(recorded.emails.emails)
    if recorded.slack is not None:
        summary.alerts_posted = len(recorded.slack.posted)
    ledger = container.ledger()
    if isinstance(ledger, InMemoryLedger):
        summary.settlements_recorded = sum(1 for entry in ledger.entries if entry.accepted)


__all__ = ["DemoOptions", "DemoSummary", "make_events", "print_summary", "run_demo"]
