"""Broadcast in chunks (seed 003): progress per chunk, and a retry never re-sends a recipient."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adapters.outbound.flaky import FailureKind, FailurePlan, FlakyPushSender
from adapters.outbound.notification_senders import InMemoryNotificationSender
from domain.notifications.broadcast import SendBroadcastHandler
from domain.notifications.handlers import build_handlers
from domain.notifications.jobs import BROADCAST_QUEUE, JOB_MODELS, SendBroadcast
from domain.notifications.service import NotificationQueueService
from domain.queue.errors import RetryableError
from domain.queue.job import JobProgress, JobState
from domain.queue.metadata import JobMetadata

USERS = ("u1", "u2", "u3", "u4", "u5")


def broadcast(
    chunk_size: int = 2, chunk_delay_ms: int = 0, recipients: tuple[str, ...] = USERS
) -> SendBroadcast:
    return SendBroadcast(
        broadcast_id="b-1",
        sender_id="admin",
        recipient_ids=recipients,
        title="Maintenance",
        body="Tonight 22:00 UTC",
        chunk_size=chunk_size,
        chunk_delay_ms=chunk_delay_ms,
    )


async def no_sleep(_: float) -> None:
    return None


async def test_every_recipient_gets_the_broadcast_once_in_order(context_for) -> None:
    sender = InMemoryNotificationSender()
    result = await SendBroadcastHandler(sender, sleep=no_sleep)(broadcast(), context_for("broadcast-b-1"))

    assert [m.user_id for m in sender.pushes] == list(USERS)
    assert sender.pushes[0].message_id == "broadcast:b-1:u1"
    assert result == {"broadcast_id": "b-1", "recipients": 5, "sent": 5, "rejected": [], "chunks": 3}


async def test_progress_is_stored_after_each_chunk(context_for) -> None:
    ctx = context_for("broadcast-b-1")
    await SendBroadcastHandler(InMemoryNotificationSender(), sleep=no_sleep)(broadcast(), ctx)

    assert all(isinstance(p, JobProgress) for p in ctx.progress)
    steps = [
        (p.percentage, p.step, p.current_step, p.total_steps)
        for p in ctx.progress
        if isinstance(p, JobProgress)
    ]
    assert steps == [(40.0, "sending", 1, 3), (80.0, "sending", 2, 3), (100.0, "complete", 3, 3)]


async def test_chunks_are_separated_by_the_chunk_delay(context_for) -> None:
    pauses: list[float] = []

    async def record_pause(seconds: float) -> None:
        pauses.append(seconds)

    await SendBroadcastHandler(InMemoryNotificationSender(), sleep=record_pause)(
        broadcast(chunk_delay_ms=250), context_for()
    )

    assert pauses == [0.25, 0.25]  # between three chunks, not after the last


async def test_a_retry_after_a_failure_mid_chunk_does_not_resend_anyone(context_for) -> None:
    inner = InMemoryNotificationSender()
    handler = SendBroadcastHandler(
        FlakyPushSender(inner, FailurePlan(message_ids=frozenset({"broadcast:b-1:u4"}))), sleep=no_sleep
    )
    first = context_for("broadcast-b-1")
    with pytest.raises(RetryableError, match="chunk 2/3 failed at user u4"):
        await handler(broadcast(), first)

    await handler(broadcast(), first.next_attempt())

    assert [m.user_id for m in inner.pushes] == list(USERS)


async def test_a_rejected_recipient_is_skipped_reported_and_remembered_across_retries(context_for) -> None:
    inner = InMemoryNotificationSender()
    rejected = FlakyPushSender(
        inner, FailurePlan(message_ids=frozenset({"broadcast:b-1:u2"}), kind=FailureKind.PERMANENT)
    )
    handler = SendBroadcastHandler(
        FlakyPushSender(rejected, FailurePlan(message_ids=frozenset({"broadcast:b-1:u5"}))), sleep=no_sleep
    )
    first = context_for("broadcast-b-1")
    with pytest.raises(RetryableError):
        await handler(broadcast(), first)

    result = await handler(broadcast(), first.next_attempt())

    assert [m.user_id for m in inner.pushes] == ["u1", "u3", "u4", "u5"]
    assert (result["sent"], result["rejected"]) == (4, ["u2"])


async def test_progress_of_another_broadcast_is_not_taken_as_a_checkpoint(context_for) -> None:
    inner = InMemoryNotificationSender()
    ctx = context_for("broadcast-b-1")
    await SendBroadcastHandler(inner, sleep=no_sleep)(broadcast(), ctx)
    other = broadcast().model_copy(update={"broadcast_id": "b-2"})

    await SendBroadcastHandler(inner, sleep=no_sleep)(other, ctx.next_attempt())

    assert len(inner.pushes) == 2 * len(USERS)


def test_a_broadcast_naming_a_recipient_twice_is_refused_by_its_model() -> None:
    with pytest.raises(ValidationError, match="must not repeat a recipient"):
        broadcast(recipients=("u1", "u2", "u1"))


async def test_a_broadcast_retried_by_the_worker_completes_with_each_recipient_sent_once(world_for) -> None:
    world = world_for(JOB_MODELS)
    inner = InMemoryNotificationSender()
    flaky = FlakyPushSender(
        inner, FailurePlan(message_ids=frozenset({"broadcast:b-1:u3"}), retry_delay_ms=10)
    )
    service = NotificationQueueService(
        email_queue=world.queue("notification-email"),
        sms_queue=world.queue("notification-sms"),
        push_queue=world.queue("notification-push"),
        broadcast_queue=world.queue(BROADCAST_QUEUE),
    )
    job = await service.enqueue_broadcast(broadcast(), JobMetadata(correlation_id="corr-b"))

    [done] = await world.drain(BROADCAST_QUEUE, build_handlers(inner, inner, flaky, sleep=no_sleep), [job.id])

    assert (done.state, done.attempts_started) == (JobState.COMPLETED, 2)
    assert [m.user_id for m in inner.pushes] == list(USERS)
    assert isinstance(done.progress, JobProgress) and done.progress.percentage == 100.0
    assert done.return_value == {
        "broadcast_id": "b-1",
        "recipients": 5,
        "sent": 5,
        "rejected": [],
        "chunks": 3,
    }
