"""Admin hooks (ADR 0024): every admin operation of a hooked queue reports an ``AdminAction`` after
it ran; a hook that cannot record it makes the action raise ``AdminRecordError`` once every hook
ran, saying the action was done; an action that fails on its own raises its own error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from adapters.memory import MemoryBroker
from adapters.memory.audit_store import MemoryAuditStore
from adapters.outbound.audit_json_lines import JsonLinesAuditSink
from application.audit import AuditHook, AuditQuery
from application.hooked_queue import with_hooks
from application.hooks import AdminAction, AdminRecordError, Hook, Hooks
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.queue_backend import QueueBackend
from domain.queue.errors import QueueError
from domain.queue.job import JobState

QUEUE = "admin-hooks"


class Seen(Hook):
    def __init__(self) -> None:
        self.actions: list[AdminAction] = []

    async def after_admin(self, action: AdminAction) -> None:
        self.actions.append(action)


class Refusing(Hook):
    async def after_admin(self, action: AdminAction) -> None:
        raise QueueError("audit store down")


def _queue(hooks: Hooks, broker: MemoryBroker | None = None) -> tuple[QueueBackend, QueueBackend]:
    backend = (broker or MemoryBroker()).queue(JobFactory(QUEUE, JobTypes()))
    return backend, with_hooks(backend, hooks)


def test_a_queue_without_admin_or_add_hooks_is_not_wrapped() -> None:
    backend, queue = _queue(Hooks([]))

    assert queue is backend


async def test_every_hook_sees_the_action_after_it_ran_with_its_arguments_and_result() -> None:
    seen = Seen()
    _, queue = _queue(Hooks([seen]))

    await queue.pause()
    removed = await queue.clean(5000, JobState.FAILED, 10)

    assert [(a.action, a.queue, a.params, a.count, a.outcome) for a in seen.actions] == [
        ("pause", QUEUE, {}, None, "ok"),
        ("clean", QUEUE, {"state": "failed", "grace_ms": 5000, "limit": 10}, removed, "ok"),
    ]


async def test_a_hook_that_cannot_record_makes_the_action_raise_after_it_was_done_and_after_every_hook_ran() -> (
    None
):
    seen = Seen()
    backend, queue = _queue(Hooks([Refusing(), seen]))

    with pytest.raises(AdminRecordError) as raised:
        await queue.pause()

    assert await backend.is_paused()
    assert [a.action for a in seen.actions] == ["pause"]
    assert str(raised.value) == (
        f"pause of queue {QUEUE} was done (outcome ok), but its audit entry could not be written: "
        "audit store down"
    )


async def test_an_action_that_fails_on_its_own_raises_its_own_error_and_is_recorded_as_failed() -> None:
    store = MemoryAuditStore()
    broker = MemoryBroker()
    _, queue = _queue(Hooks([AuditHook(store, actor="alice")]), broker)
    await broker.close()  # every call on a closed memory broker is refused

    with pytest.raises(QueueError) as raised:
        await queue.pause()

    assert not isinstance(raised.value, AdminRecordError)
    [entry] = await store.read(AuditQuery())
    assert (entry.action, entry.outcome, entry.actor) == ("pause", "failed", "alice")
    assert entry.error is not None and entry.error.startswith(type(raised.value).__name__)


async def test_a_failed_action_whose_record_also_fails_raises_the_actions_error_and_logs_the_other(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = MemoryBroker()
    _, queue = _queue(Hooks([Refusing()]), broker)
    await broker.close()

    with caplog.at_level(logging.ERROR), pytest.raises(QueueError) as raised:
        await queue.pause()

    assert not isinstance(raised.value, AdminRecordError)
    assert "failed on its own (outcome failed), but its audit entry could not be written" in caplog.text


async def test_a_mirror_that_cannot_be_written_is_named_in_the_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = MemoryAuditStore()
    _, queue = _queue(Hooks([AuditHook(store, [JsonLinesAuditSink(blocker / "a.jsonl")], actor="a")]))

    with pytest.raises(AdminRecordError, match="JsonLinesAuditSink: cannot write"):
        await queue.resume()

    assert [e.action for e in await store.read(AuditQuery())] == ["resume"]  # the store has it


async def test_a_payload_rewrite_is_recorded_as_a_key_rotation_with_the_count_it_replaced() -> None:
    seen = Seen()
    _, queue = _queue(Hooks([seen]))

    replaced = await queue.rewrite_payloads(lambda job_id, name, data: None)

    assert [(a.action, a.queue, a.count, a.outcome) for a in seen.actions] == [
        ("keys.rotate", QUEUE, replaced, "ok")
    ]
