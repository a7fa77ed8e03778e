"""Seed 003's cleanup on its schedule: the messages module's nightly slot, added by the scheduler,
runs the cleanup handler, which deletes the messages older than the retention in batches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from dependency_injector import providers

from adapters.outbound.message_stores import InMemoryMessageStore
from application.clock import ManualClock
from bootstrap.app import Backbone
from bootstrap.scheduling import build_scheduler
from domain.messages.jobs import CLEANUP_QUEUE
from domain.messages.module import MODULE
from domain.queue.job import JobState
from domain.queue.options import DAY_MS

NIGHT_MS = round(datetime(2026, 12, 4, 2, 0, 5, tzinfo=UTC).timestamp() * 1000)  # 5 s past 02:00


def test_the_cleanup_is_scheduled_every_night_at_two() -> None:
    schedule = MODULE.schedules[0]

    assert (schedule.name, schedule.cron, schedule.job) == (
        "message-cleanup",
        "0 2 * * *",
        "message.cleanup.v1",
    )


async def test_the_nightly_slot_deletes_the_messages_older_than_the_retention_in_batches() -> None:
    clock = ManualClock(NIGHT_MS)
    store = InMemoryMessageStore()
    for n in range(2500):
        store.add(f"old-{n}", NIGHT_MS - 91 * DAY_MS)
    store.add("recent", NIGHT_MS - 89 * DAY_MS)
    async with Backbone.open("memory://", modules=[MODULE]) as app:
        app.container.message_store.override(providers.Object(store))
        app.container.clock.override(providers.Object(clock))
        scheduler = build_scheduler(app.container.schedules(), [CLEANUP_QUEUE], app.container.queues(), clock)
        [added] = await scheduler.tick()
        worker = await app.worker(CLEANUP_QUEUE, block_ms=50)
        running = asyncio.create_task(worker.run())
        await app.wait_until_idle(CLEANUP_QUEUE, timeout_s=10)
        worker.request_stop()
        await asyncio.wait_for(running, 10)
        done = await app.queue(CLEANUP_QUEUE).get_job(added.id)

    assert added.id == f"schedule:message-cleanup:{NIGHT_MS - 5000}"
    assert done is not None and done.state is JobState.COMPLETED
    assert done.return_value == {"deleted": 2500, "dry_run": False}
    assert list(store.created_at) == ["recent"]
