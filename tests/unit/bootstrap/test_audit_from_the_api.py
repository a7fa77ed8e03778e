"""The audit log through ``Backbone`` on ``memory://`` (ADR 0024): on by default, every admin call
on a queue recorded with the configured actor or the OS user, lifecycle entries when asked for."""

from __future__ import annotations

from pydantic import BaseModel

from application.audit import default_actor
from backbone import (
    AuditQuery,
    Backbone,
    DomainModule,
    JobContext,
    JobMetadata,
    JobSpec,
    QueueSpec,
    UserRef,
    current_actor,
)


class Ping(BaseModel):
    n: int


async def pong(job: Ping, ctx: JobContext) -> int:
    return job.n


PINGS = DomainModule(
    "pings",
    queues=[QueueSpec("pings")],
    jobs=[JobSpec("ping.send.v1", Ping, queue="pings")],
    handlers=lambda ctx: {"ping.send.v1": pong},
)


async def test_an_admin_call_on_a_queue_is_recorded_with_the_os_user_by_default() -> None:
    async with Backbone.open("memory://", modules=[PINGS]) as app:
        await app.queue("pings").pause()
        entries = await app.audit_log()

    assert [(e.action, e.queue, e.actor, e.outcome) for e in entries] == [
        ("pause", "pings", default_actor(), "ok")
    ]


async def test_the_actor_setting_and_the_callers_context_name_who_acted() -> None:
    async with Backbone.open("memory://", modules=[PINGS], audit={"actor": "svc-admin"}) as app:
        await app.queue("pings").pause()
        token = current_actor.set("alice")
        try:
            await app.queue("pings").resume()
        finally:
            current_actor.reset(token)
        entries = await app.audit_log(AuditQuery(queue="pings"))

    assert [(e.action, e.actor) for e in entries] == [("pause", "svc-admin"), ("resume", "alice")]


async def test_with_lifecycle_on_every_add_and_outcome_is_recorded_too() -> None:
    async with Backbone.open("memory://", modules=[PINGS], audit={"lifecycle": True}) as app:
        job = await app.queue("pings").add(
            "ping.send.v1", {"n": 1}, metadata=JobMetadata(user=UserRef(sub="user-7"))
        )
        async with app.workers("pings"):
            await app.wait_until_idle("pings", timeout_s=10)
        entries = await app.audit_log(AuditQuery(queue="pings"))

    assert [(e.action, e.job_ids, e.outcome) for e in entries] == [
        ("job.added", (job.id,), "ok"),
        ("job.completed", (job.id,), "ok"),
    ]
    assert entries[0].actor == "user-7"
    assert entries[1].params["name"] == "ping.send.v1"
    assert entries[1].params["attempt"] == 1


async def test_without_lifecycle_jobs_leave_no_entry() -> None:
    async with Backbone.open("memory://", modules=[PINGS]) as app:
        await app.queue("pings").add("ping.send.v1", {"n": 1})
        async with app.workers("pings"):
            await app.wait_until_idle("pings", timeout_s=10)
        entries = await app.audit_log()

    assert entries == []


async def test_a_disabled_audit_log_records_nothing() -> None:
    async with Backbone.open("memory://", modules=[PINGS], audit={"enabled": False}) as app:
        await app.queue("pings").pause()
        entries = await app.audit_log()

    assert entries == []
