"""The audit log on every broker (ADR 0024): admin actions recorded with actor, queue, job ids or
counts and outcome on the broker's own store; retention; a failed audit write reported after the
action, which stands; no secret in an entry, an error or a log line.

Each test runs on memory, Redis, RabbitMQ and Kafka (the harness's real brokers), with a queue
and an audit log of its own (a unique key prefix).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from application.audit import AuditEntry, AuditHook, AuditQuery, AuditStore
from application.clock import ManualClock, system_clock
from application.hooked_queue import with_hooks
from application.hooks import AdminAction, AdminRecordError, Hooks, current_actor
from application.jobs.job_factory import JobFactory
from application.queue_backend import ClaimRequest, FailureReport, LeaseRef, QueueBackend
from backbone.testing.contract.helpers import ECHO, contract_job_types, fast_defaults, unique_queue_name
from bootstrap.audit import create_audit_store
from bootstrap.brokers import create_broker
from bootstrap.queues import QueueHandle
from bootstrap.settings import AuditSettings, BrokerSettings
from domain.queue.errors import BrokerUnavailableError
from domain.queue.job import JobState
from domain.queue.options import JobOptions
from tests.harness.ports import free_port

BROKERS = ("memory", "redis", "rabbitmq", "kafka")
DAY_MS = 24 * 3600 * 1000
SECRET = "s3cret-audit-pw"


def _url(request: pytest.FixtureRequest, kind: str) -> str:
    if kind == "memory":
        return "memory://"
    if kind == "kafka":
        return str(request.getfixturevalue("kafka_site").url)
    return str(request.getfixturevalue(f"{kind}_broker").url)


def _dead_url(kind: str) -> str:
    """A URL of this broker kind, with a password, where nothing listens."""
    port = free_port()
    return {
        "redis": f"redis://:{SECRET}@127.0.0.1:{port}/0",
        "rabbitmq": f"amqp://app:{SECRET}@127.0.0.1:{port}/%2F",
        "kafka": f"kafka://app:{SECRET}@127.0.0.1:{port}",
    }[kind]


@dataclass
class Site:
    kind: str
    url: str
    prefix: str

    def broker_settings(self, url: str | None = None) -> BrokerSettings:
        return BrokerSettings(url=url or self.url, key_prefix=self.prefix, connect_timeout_ms=1000)

    def store(self, clock: ManualClock | None = None, retention_ms: int = 90 * DAY_MS) -> AuditStore:
        return create_audit_store(
            self.broker_settings(), AuditSettings(retention_ms=retention_ms), clock or system_clock
        )


@pytest.fixture(params=BROKERS)
def site(request: pytest.FixtureRequest) -> Site:
    kind = str(request.param)
    return Site(kind, _url(request, kind), f"audit{uuid.uuid4().hex[:10]}")


@dataclass
class Audited:
    queue: QueueBackend  # the queue with the audit hook
    store: AuditStore
    name: str


@pytest.fixture
async def audited(site: Site) -> AsyncIterator[Audited]:
    broker = create_broker(site.broker_settings())
    store = site.store()
    name = unique_queue_name("audit")
    backend = await broker.open_queue(JobFactory(name, contract_job_types(), fast_defaults()))
    queue = with_hooks(backend, Hooks([AuditHook(store, actor="alice")]))
    try:
        yield Audited(queue, store, name)
    finally:
        await queue.close()
        await broker.close()
        await store.close()


async def _dead_letter(queue: QueueBackend) -> str:
    job = await queue.add(ECHO, {"n": 1}, JobOptions(attempts=1))
    [claimed] = await queue.claim(ClaimRequest(worker_id="w1", max_jobs=1, lease_ms=10_000, block_ms=2000))
    assert await queue.fail(LeaseRef(claimed.job.id, claimed.token), FailureReport("boom", None, None))
    return job.id


def _row(entry: AuditEntry) -> tuple[object, ...]:
    return (entry.action, entry.queue, entry.actor, entry.outcome, entry.count, entry.job_ids)


async def test_every_admin_action_is_recorded_with_actor_queue_job_ids_counts_and_outcome(
    audited: Audited,
) -> None:
    queue, q = audited.queue, audited.name
    await queue.pause()
    await queue.resume()
    removed = await queue.add(ECHO, {"n": 0})
    assert await queue.remove_job(removed.id)
    assert not await queue.remove_job("no-such-job")
    cleaned = await queue.clean(0, JobState.COMPLETED, 100)
    one = await _dead_letter(queue)
    assert await queue.reprocess_dead_letter(one)
    await queue.remove_job(one)  # recorded too
    await _dead_letter(queue)
    reprocessed = await queue.reprocess_dead_letters()
    purged = await queue.purge_dead_letters(0)

    entries = await audited.store.read(AuditQuery(queue=q))

    assert [_row(e) for e in entries] == [
        ("pause", q, "alice", "ok", None, ()),
        ("resume", q, "alice", "ok", None, ()),
        ("remove", q, "alice", "ok", None, (removed.id,)),
        ("remove", q, "alice", "not_found", None, ("no-such-job",)),
        ("clean", q, "alice", "ok", cleaned, ()),
        ("dlq.reprocess", q, "alice", "ok", None, (one,)),
        ("remove", q, "alice", "ok", None, (one,)),
        ("dlq.reprocess_all", q, "alice", "ok", reprocessed, ()),
        ("dlq.purge", q, "alice", "ok", purged, ()),
    ]
    assert reprocessed == 1
    assert entries[4].params == {"state": "completed", "grace_ms": 0, "limit": 100}
    assert entries[-1].params == {"older_than_ms": 0}


async def test_the_actor_of_the_callers_context_is_recorded_instead_of_the_default(audited: Audited) -> None:
    token = current_actor.set("bob@ops")
    try:
        await audited.queue.pause()
    finally:
        current_actor.reset(token)

    [entry] = await audited.store.read(AuditQuery(queue=audited.name))

    assert (entry.action, entry.actor) == ("pause", "bob@ops")


async def test_the_log_is_read_by_queue_actor_and_time(site: Site) -> None:
    clock = ManualClock(system_clock())
    store = site.store(clock)
    try:
        first = AuditHook(store, actor="alice", clock=clock)
        second = AuditHook(store, actor="bob", clock=clock)
        queue_a, queue_b = unique_queue_name("a"), unique_queue_name("b")
        await first.after_admin(AdminAction("pause", queue_a))
        clock.advance(60_000)
        await second.after_admin(AdminAction("pause", queue_b))
        await first.after_admin(AdminAction("resume", queue_a))

        by_queue = await store.read(AuditQuery(queue=queue_a))
        by_actor = await store.read(AuditQuery(actor="bob"))
        recent = await store.read(AuditQuery(since_ms=clock() - 1000))
    finally:
        await store.close()

    assert [(e.action, e.queue) for e in by_queue] == [("pause", queue_a), ("resume", queue_a)]
    assert [(e.actor, e.queue) for e in by_actor] == [("bob", queue_b)]
    assert [(e.actor, e.action) for e in recent] == [("bob", "pause"), ("alice", "resume")]


async def test_entries_older_than_the_retention_are_trimmed_and_never_read(site: Site) -> None:
    clock = ManualClock(system_clock())
    store = site.store(clock, retention_ms=DAY_MS)
    try:
        hook = AuditHook(store, actor="alice", clock=clock)
        await hook.after_admin(AdminAction("pause", "old"))
        clock.advance(DAY_MS + 1000)
        await hook.after_admin(AdminAction("pause", "new"))

        entries = await store.read(AuditQuery())
        stored = await _stored_count(site, store)
    finally:
        await store.close()

    assert [e.queue for e in entries] == ["new"]
    if stored is not None:  # memory and Redis trim at the write; RabbitMQ and Kafka by segment age
        assert stored == 1


async def _stored_count(site: Site, store: AuditStore) -> int | None:
    if site.kind == "memory":
        from adapters.memory.audit_store import MemoryAuditStore

        assert isinstance(store, MemoryAuditStore)
        return len(store.stored())
    if site.kind == "redis":
        from redis.asyncio import Redis

        client = Redis.from_url(site.url)
        try:
            return int(await client.xlen(f"{site.prefix}:audit"))
        finally:
            await client.aclose()
    return None


@pytest.fixture
def unwritable(tmp_path: Path) -> Path:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the audit directory should be")
    return blocker / "audit.jsonl"


async def test_a_failed_audit_write_is_reported_after_the_action_which_stands(
    site: Site, unwritable: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    broker = create_broker(site.broker_settings())
    name = unique_queue_name("auditfail")
    if site.kind == "memory":  # memory cannot fail: the JSON-lines mirror does
        from adapters.outbound.audit_json_lines import JsonLinesAuditSink

        failing = AuditHook(site.store(), [JsonLinesAuditSink(unwritable)], actor="alice")
    else:  # the broker's audit store is unreachable (and its URL carries a password)
        dead = create_audit_store(site.broker_settings(_dead_url(site.kind)), AuditSettings(), system_clock)
        failing = AuditHook(dead, actor="alice")
    backend = await broker.open_queue(JobFactory(name, contract_job_types(), fast_defaults()))
    queue = with_hooks(backend, Hooks([failing]))
    try:
        with pytest.raises(AdminRecordError) as raised:
            await queue.pause()
        paused = await backend.is_paused()
    finally:
        await queue.close()
        await broker.close()
        await failing.close()

    message = str(raised.value)
    assert paused
    assert message.startswith(
        f"pause of queue {name} was done (outcome ok), but its audit entry could not be written:"
    )
    assert SECRET not in message
    assert SECRET not in caplog.text
    assert "could not be written" in message


async def test_an_entry_of_a_failed_action_names_the_error_without_any_secret(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = site.store()
    name = unique_queue_name("auditerr")
    # the action runs on an unreachable broker whose URL carries a password; its error is recorded
    dead_kind = "redis" if site.kind == "memory" else site.kind
    dead = create_broker(site.broker_settings(_dead_url(dead_kind)))
    handle = QueueHandle(dead, JobFactory(name, contract_job_types(), fast_defaults()))
    queue = with_hooks(handle, Hooks([AuditHook(store, actor="alice")]))
    try:
        with pytest.raises(BrokerUnavailableError) as raised:
            await queue.pause()
        [entry] = await store.read(AuditQuery(queue=name))
    finally:
        await queue.close()
        await dead.close()
        await store.close()

    assert (entry.action, entry.outcome, entry.actor) == ("pause", "failed", "alice")
    assert entry.error is not None and entry.error.startswith("BrokerUnavailableError: ")
    assert SECRET not in entry.to_json()
    assert SECRET not in str(raised.value)
    assert SECRET not in caplog.text
