"""The audit log (ADR 0024): every admin action as an ``AuditEntry``, kept by an ``AuditStore``.

``AuditHook`` is an admin hook (``application.hooks``): after each ``AdminAction`` it writes one
entry to the broker's store (a Redis stream, a RabbitMQ stream, a Kafka topic, memory) and to any
mirror sinks (a JSON-lines file), and raises when a write fails, so the action reports it. The
actor is the action's (``current_actor``), else the hook's default (settings or the OS user).

Stores keep entries for ``retention_ms``: older ones are trimmed where the broker allows it and
never returned by ``read``.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from application.clock import Clock, system_clock
from application.hooks import Adding, AdminAction, Attempt, Hook
from domain.queue.errors import QueueError
from domain.queue.job import JsonValue

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_MS = 90 * 24 * 3600 * 1000  # seed 001: a security audit log kept 90 days
MAX_ERROR_CHARS = 500


class AuditWriteError(QueueError):
    """An audit entry could not be stored (the store's reason; never a secret)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recorded action: when (epoch ms), who, what, on which queue, and what came of it."""

    time_ms: int
    actor: str
    action: str
    queue: str | None
    outcome: str
    job_ids: tuple[str, ...] = ()
    count: int | None = None
    params: dict[str, JsonValue] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "time_ms": self.time_ms,
            "actor": self.actor,
            "action": self.action,
            "queue": self.queue,
            "outcome": self.outcome,
            "job_ids": list(self.job_ids),
            "count": self.count,
            "params": self.params,
            "error": self.error,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> AuditEntry:
        data = json.loads(text)
        return cls(
            time_ms=int(data["time_ms"]),
            actor=str(data["actor"]),
            action=str(data["action"]),
            queue=data.get("queue"),
            outcome=str(data["outcome"]),
            job_ids=tuple(data.get("job_ids") or ()),
            count=data.get("count"),
            params=dict(data.get("params") or {}),
            error=data.get("error"),
        )


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which entries ``read`` returns: every field left ``None`` matches all; oldest first, at most
    ``limit`` (the newest ``limit`` when there are more)."""

    queue: str | None = None
    actor: str | None = None
    since_ms: int | None = None
    limit: int = 1000

    def matches(self, entry: AuditEntry) -> bool:
        return (
            (self.queue is None or entry.queue == self.queue)
            and (self.actor is None or entry.actor == self.actor)
            and (self.since_ms is None or entry.time_ms >= self.since_ms)
        )


def select(entries: Sequence[AuditEntry], query: AuditQuery, oldest_kept_ms: int) -> list[AuditEntry]:
    """The entries of ``query`` among ``entries`` (oldest first), none older than ``oldest_kept_ms``."""
    chosen = [e for e in entries if e.time_ms >= oldest_kept_ms and query.matches(e)]
    chosen.sort(key=lambda e: e.time_ms)
    return chosen[-query.limit :] if query.limit > 0 else []


class AuditSink(ABC):
    """Where entries are written (a file, a broker). ``append`` raises ``AuditWriteError``."""

    @abstractmethod
    async def append(self, entry: AuditEntry) -> None:
        """Store ``entry`` durably before returning."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections and files. Idempotent."""


class AuditStore(AuditSink):
    """A sink that can be read back: the broker's own audit log."""

    retention_ms: int
    clock: Clock

    @abstractmethod
    async def read(self, query: AuditQuery) -> list[AuditEntry]:
        """The entries matching ``query`` still within retention, oldest first."""

    def oldest_kept_ms(self) -> int:
        return self.clock() - self.retention_ms


def error_text(error: BaseException | None) -> str | None:
    """What an entry says about a failure: the error's type and message (errors carry redacted
    URLs only), cut to ``MAX_ERROR_CHARS``."""
    if error is None:
        return None
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def default_actor() -> str:
    """The OS user running this process (``unknown`` when it has none, e.g. a bare container)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


class AuditHook(Hook):
    """Writes one ``AuditEntry`` per ``AdminAction`` to ``store`` and every ``mirrors`` sink.

    Every admin action is recorded with all its fields, whichever part of the framework reports
    it (queue operations through ``HookedQueue``, schedules, key rotation). A write that fails
    raises ``AuditWriteError`` naming the sink; the dispatcher turns it into ``AdminRecordError``.
    """

    __slots__ = ("actor", "clock", "mirrors", "store")

    def __init__(
        self,
        store: AuditSink | None,
        mirrors: Sequence[AuditSink] = (),
        *,
        actor: str | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.store = store
        self.mirrors = tuple(mirrors)
        self.actor = actor or default_actor()
        self.clock = clock

    def entry(self, action: AdminAction) -> AuditEntry:
        return AuditEntry(
            time_ms=self.clock(),
            actor=action.actor or self.actor,
            action=action.action,
            queue=action.queue,
            outcome=action.outcome,
            job_ids=tuple(action.job_ids),
            count=action.count,
            params=dict(action.params),
            error=error_text(action.error),
        )

    async def after_admin(self, action: AdminAction) -> None:
        entry = self.entry(action)
        failures: list[str] = []
        for sink in (self.store, *self.mirrors):
            if sink is None:
                continue
            try:
                await sink.append(entry)
            except Exception as exc:
                reason = str(exc) if isinstance(exc, QueueError) else error_text(exc)
                failures.append(f"{type(sink).__name__}: {reason}")
        if failures:
            raise AuditWriteError("; ".join(failures))

    async def close(self) -> None:
        """Close the store and every mirror."""
        for sink in (self.store, *self.mirrors):
            if sink is not None:
                await sink.close()


class LifecycleAuditHook(AuditHook):
    """An ``AuditHook`` that also records every job's lifecycle (``audit.lifecycle``): each add
    (``job.added``, the actor is the job's ``metadata.user.sub``) and each attempt's end
    (``job.completed``, ``job.retry_scheduled``, ``job.dead_lettered``, ``job.lease_lost``).

    Those events come from the synchronous producer and worker hooks, so their entries are written
    by background tasks: a failed write is logged (``application.audit``), it never fails a job.
    ``close`` waits for the writes still on their way.
    """

    __slots__ = ("_pending",)

    def __init__(
        self,
        store: AuditSink | None,
        mirrors: Sequence[AuditSink] = (),
        *,
        actor: str | None = None,
        clock: Clock = system_clock,
    ) -> None:
        super().__init__(store, mirrors, actor=actor, clock=clock)
        self._pending: set[asyncio.Task[None]] = set()

    def after_add(self, adding: Adding) -> None:
        entries = adding.entries
        user = next((e.metadata.user for e in entries if e.metadata is not None and e.metadata.user), None)
        jobs = adding.jobs or []
        self._write(
            AuditEntry(
                time_ms=self.clock(),
                actor=user.sub if user is not None else self.actor,
                action="job.added",
                queue=adding.queue,
                outcome="ok" if adding.error is None else "failed",
                job_ids=tuple(job.id for job in jobs),
                count=len(jobs) if adding.error is None else 0,
                params={"names": sorted({e.name for e in entries}), "bulk": adding.bulk},
                error=error_text(adding.error),
            )
        )

    def on_completed(self, attempt: Attempt) -> None:
        self._attempt_entry("job.completed", attempt, "ok")

    def on_retry_scheduled(self, attempt: Attempt) -> None:
        self._attempt_entry("job.retry_scheduled", attempt, "failed")

    def on_dead_lettered(self, attempt: Attempt) -> None:
        self._attempt_entry("job.dead_lettered", attempt, "failed")

    def on_lease_lost(self, attempt: Attempt) -> None:
        self._attempt_entry("job.lease_lost", attempt, "failed")

    def _attempt_entry(self, action: str, attempt: Attempt, outcome: str) -> None:
        job = attempt.job
        self._write(
            AuditEntry(
                time_ms=self.clock(),
                actor=attempt.worker_id,
                action=action,
                queue=attempt.queue,
                outcome=outcome,
                job_ids=(job.id,),
                params={
                    "name": job.name,
                    "attempt": attempt.number,
                    "correlation_id": job.metadata.correlation_id,
                },
                error=attempt.reason[:MAX_ERROR_CHARS] if attempt.reason else None,
            )
        )

    def _write(self, entry: AuditEntry) -> None:
        task = asyncio.get_running_loop().create_task(self._append_logged(entry))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _append_logged(self, entry: AuditEntry) -> None:
        for sink in (self.store, *self.mirrors):
            if sink is None:
                continue
            try:
                await sink.append(entry)
            except Exception as exc:
                logger.error(
                    "audit entry %s of job %s not written to %s: %s",
                    entry.action,
                    ",".join(entry.job_ids) or "-",
                    type(sink).__name__,
                    error_text(exc),
                )

    async def flush(self) -> None:
        """Wait until every lifecycle entry recorded so far is written (or its failure logged)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self) -> None:
        await self.flush()
        await super().close()
