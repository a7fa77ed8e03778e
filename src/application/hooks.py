"""Hooks: one observer/middleware interface on the producer path and on the worker path (ADR 0016).

A ``Hook`` overrides any subset of its methods; the others stay no-ops. Hooks are called in the
order given, synchronously on the event loop, with a record of what happened:

- producer: ``before_add`` / ``after_add`` around every ``add`` and ``add_bulk`` (an ``Adding``;
  ``before_add`` may replace the entries, e.g. to put trace context into their metadata). The
  wrapper ``HookedQueue`` calls them, built once where queues are opened (``with_hooks``).
- worker: ``on_claimed`` per claimed batch, then per attempt (an ``Attempt``): ``on_started``,
  ``on_completed``, ``on_retry_scheduled``, ``on_dead_lettered``, ``on_lease_lost``,
  ``on_handed_back`` (no handler for the name here, ADR 0017); ``on_released`` at shutdown.
- admin: ``after_admin`` after every operator action (pause, resume, clean, remove, reprocess,
  purge, and whatever else reports an ``AdminAction``: schedule changes, key rotation). It is the
  one async hook method, awaited by the action, and the one whose failure is reported: an audit
  entry that cannot be written makes the action raise ``AdminRecordError`` after it was done
  (ADR 0024).

A hook must not block (hand slow work to a task or a thread) and should not raise: an exception
from a hook is logged with the hook's name and dropped, it never changes what happens to a job.
``Hooks`` is the dispatcher: for each event it keeps only the hooks that override it, so an event
no hook observes costs one empty loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, cast

from application.queue_backend import ClaimedJob, LeaseRef
from domain.queue.errors import QueueError
from domain.queue.job import Job, JsonValue, NewJob

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Adding:
    """One ``add`` or ``add_bulk`` call on ``queue``, as the producer hooks see it.

    ``entries`` is what will be stored (``before_add`` may replace entries, one for one); after
    the call, ``jobs`` holds what ``add`` returned (on success) or ``error`` what it raised, and
    ``duration_ms`` how long the store took. ``state`` is for a hook's own per-call values (a span,
    a start time), keyed by the hook.
    """

    queue: str
    entries: list[NewJob]
    bulk: bool
    jobs: list[Job] | None = None
    error: BaseException | None = None
    duration_ms: float = 0.0
    state: dict[object, Any] = field(default_factory=dict)


current_actor: ContextVar[str | None] = ContextVar("backbone_current_actor", default=None)
"""Who is acting in this context (a CLI flag, an API request's user); ``AdminAction.actor`` when set."""


@dataclass(slots=True)
class AdminAction:
    """One operator action, as the admin hooks see it once it is done (or failed).

    ``action`` is a dotted name (``pause``, ``resume``, ``clean``, ``remove``, ``dlq.reprocess``,
    ``dlq.reprocess_all``, ``dlq.purge``; other parts of the framework add theirs, e.g.
    ``schedule.*``, ``keys.rotate``). ``params`` are its arguments (JSON values, never a secret),
    ``job_ids`` the jobs it named, ``count`` how many it changed, ``outcome`` ``ok``,
    ``not_found`` (nothing matched the id) or ``failed`` (``error`` holds what it raised), and
    ``actor`` who asked (``current_actor`` of the caller's context when not given).
    """

    action: str
    queue: str | None
    params: dict[str, JsonValue] = field(default_factory=dict)
    job_ids: tuple[str, ...] = ()
    count: int | None = None
    outcome: str = "ok"
    error: BaseException | None = None
    actor: str | None = None

    def __post_init__(self) -> None:
        if self.actor is None:
            self.actor = current_actor.get()

    def describe(self) -> str:
        where = f" of queue {self.queue}" if self.queue else ""
        return f"{self.action}{where}"


AdminCalls = tuple[Callable[["AdminAction"], Awaitable[None]], ...]


class AdminRecordError(QueueError):
    """An admin action was done (or failed on its own), but an admin hook could not record it.

    ``action`` is what happened; ``causes`` are the hooks' errors. The message says both, so
    an operator knows the action itself took place.
    """

    def __init__(self, action: AdminAction, causes: Sequence[BaseException]) -> None:
        self.action = action
        self.causes = tuple(causes)
        done = "was done" if action.outcome != "failed" else "failed on its own"
        reasons = "; ".join(
            str(c) if isinstance(c, QueueError) else f"{type(c).__name__}: {c}" for c in self.causes
        )
        super().__init__(
            f"{action.describe()} {done} (outcome {action.outcome}), but its audit entry could not "
            f"be written: {reasons}"
        )


class Attempt:
    """One claimed job in one worker, from claim to its outcome, as the worker hooks see it.

    ``job`` is the claimed snapshot (``job.queue``, ``job.attempts_started`` is this attempt's
    number, ``job.created_at``/``job.processed_on`` for waiting time). ``duration_ms`` is the time
    from start until the outcome was decided (the handler's time; storing the outcome is not in
    it); ``error`` the handler's exception (if any), ``reason`` the text stored
    with a failure or hand-back, ``retry_delay_ms`` the delay before the next attempt or hand-back.
    ``state`` is for a hook's own per-attempt values (e.g. a tracing span), made on first use.
    """

    __slots__ = (
        "_finished",
        "_state",
        "duration_ms",
        "error",
        "job",
        "lease",
        "lease_lost",
        "reason",
        "retry_delay_ms",
        "started_at",
        "worker_id",
    )

    def __init__(self, job: Job, lease: LeaseRef, worker_id: str) -> None:
        self.job = job
        self.lease = lease
        self.worker_id = worker_id
        self.started_at = time.perf_counter()  # seconds, for durations only
        self.duration_ms = 0.0
        self.error: BaseException | None = None
        self.reason: str | None = None
        self.retry_delay_ms: int | None = None
        self._state: dict[object, Any] | None = None
        self.lease_lost = self._finished = False

    @property
    def queue(self) -> str:
        return self.job.queue

    @property
    def number(self) -> int:
        """This attempt's number (1 for the first); a hand-back does not count one."""
        return self.job.attempts_started

    @property
    def state(self) -> dict[object, Any]:
        if self._state is None:
            self._state = {}
        return self._state

    def finish(self) -> None:
        """Stop the clock (the first call counts)."""
        if not self._finished:
            self._finished = True
            self.duration_ms = (time.perf_counter() - self.started_at) * 1000


class Hook:
    """Base class of every hook: each method is a no-op; override the ones you need.

    Every attempt that starts ends in exactly one of ``on_completed``, ``on_retry_scheduled``,
    ``on_dead_lettered`` or ``on_lease_lost``; a claimed job without a handler here ends in
    ``on_handed_back`` (or ``on_dead_lettered`` at the hand-back limit) without ``on_started``.
    """

    __slots__ = ()

    # --- producer ---------------------------------------------------------------------------------

    def before_add(self, adding: Adding) -> None:
        """Before the entries are validated and stored; may replace ``adding.entries[i]``."""

    def after_add(self, adding: Adding) -> None:
        """After the store, with ``adding.jobs`` or ``adding.error`` set (also for refused input)."""

    # --- worker -----------------------------------------------------------------------------------

    def on_claimed(self, queue: str, claimed: Sequence[ClaimedJob]) -> None:
        """A batch of jobs was claimed (each counts as a started attempt until handed back)."""

    def on_started(self, attempt: Attempt) -> None:
        """The handler is about to run."""

    def on_completed(self, attempt: Attempt) -> None:
        """The result is stored."""

    def on_retry_scheduled(self, attempt: Attempt) -> None:
        """A failed attempt is stored; the job runs again after ``attempt.retry_delay_ms``."""

    def on_dead_lettered(self, attempt: Attempt) -> None:
        """A failed attempt is stored and the job is in the dead-letter set (``attempt.reason``)."""

    def on_lease_lost(self, attempt: Attempt) -> None:
        """The lease went to another worker: renewal found it gone, or the outcome was refused."""

    def on_handed_back(self, attempt: Attempt) -> None:
        """No handler here for the job's name: given back for ``retry_delay_ms``, attempt not counted."""

    def on_released(self, queue: str, leases: Sequence[LeaseRef]) -> None:
        """Reserved jobs that never started were handed back at shutdown."""

    # --- admin ------------------------------------------------------------------------------------

    async def after_admin(self, action: AdminAction) -> None:
        """An operator action is done (or failed): record it. Awaited by the action; an exception
        here is reported to the caller as ``AdminRecordError`` (the action itself stands)."""


def _overriders(hooks: Sequence[Hook], event: str) -> tuple[Callable[..., None], ...]:
    """The bound methods of the hooks that override ``event`` (the base class's no-op is skipped)."""
    base = getattr(Hook, event)
    return tuple(getattr(hook, event) for hook in hooks if getattr(type(hook), event, base) is not base)


class Hooks:
    """The dispatcher over an ordered tuple of hooks; an exception from a hook is logged, not raised.

    Each event keeps the tuple of bound methods of the hooks that override it, built once here.
    """

    __slots__ = (
        "_after_add",
        "_after_admin",
        "_before_add",
        "_on_claimed",
        "_on_completed",
        "_on_dead_lettered",
        "_on_handed_back",
        "_on_lease_lost",
        "_on_released",
        "_on_retry_scheduled",
        "_on_started",
        "hooks",
    )

    def __init__(self, hooks: Iterable[Hook] = ()) -> None:
        self.hooks: tuple[Hook, ...] = tuple(hooks)
        for hook in self.hooks:
            if not isinstance(hook, Hook):
                raise TypeError(f"a hook must be a Hook, got {type(hook).__name__}")
        self._before_add = _overriders(self.hooks, "before_add")
        self._after_add = _overriders(self.hooks, "after_add")
        self._on_claimed = _overriders(self.hooks, "on_claimed")
        self._on_started = _overriders(self.hooks, "on_started")
        self._on_completed = _overriders(self.hooks, "on_completed")
        self._on_retry_scheduled = _overriders(self.hooks, "on_retry_scheduled")
        self._on_dead_lettered = _overriders(self.hooks, "on_dead_lettered")
        self._on_lease_lost = _overriders(self.hooks, "on_lease_lost")
        self._on_handed_back = _overriders(self.hooks, "on_handed_back")
        self._on_released = _overriders(self.hooks, "on_released")
        self._after_admin = cast(AdminCalls, _overriders(self.hooks, "after_admin"))

    @property
    def observes_adds(self) -> bool:
        return bool(self._before_add or self._after_add)

    @property
    def observes_admin(self) -> bool:
        return bool(self._after_admin)

    async def after_admin(self, action: AdminAction) -> None:
        """Every admin hook, in order, each awaited; raises ``AdminRecordError`` after all ran if
        any of them failed (the failures are also logged)."""
        causes: list[BaseException] = []
        for call in self._after_admin:
            try:
                await call(action)
            except Exception as exc:
                _log_failure(call)
                causes.append(exc)
        if causes:
            raise AdminRecordError(action, causes)

    def before_add(self, adding: Adding) -> None:
        _call_each(self._before_add, adding)

    def after_add(self, adding: Adding) -> None:
        _call_each(self._after_add, adding)

    def on_claimed(self, queue: str, claimed: Sequence[ClaimedJob]) -> None:
        _call_each(self._on_claimed, queue, claimed)

    def on_started(self, attempt: Attempt) -> None:
        _call_each(self._on_started, attempt)

    def on_completed(self, attempt: Attempt) -> None:
        _call_each(self._on_completed, attempt)

    def on_retry_scheduled(self, attempt: Attempt) -> None:
        _call_each(self._on_retry_scheduled, attempt)

    def on_dead_lettered(self, attempt: Attempt) -> None:
        _call_each(self._on_dead_lettered, attempt)

    def on_lease_lost(self, attempt: Attempt) -> None:
        _call_each(self._on_lease_lost, attempt)

    def on_handed_back(self, attempt: Attempt) -> None:
        _call_each(self._on_handed_back, attempt)

    def on_released(self, queue: str, leases: Sequence[LeaseRef]) -> None:
        _call_each(self._on_released, queue, leases)


def _call_each(calls: tuple[Callable[..., None], ...], *args: Any) -> None:
    for call in calls:
        try:
            call(*args)
        except Exception:  # a hook never changes what happens to a job
            _log_failure(call)


def _log_failure(call: Callable[..., object]) -> None:
    owner = getattr(call, "__self__", call)
    logger.exception("hook %s failed in %s", type(owner).__name__, getattr(call, "__name__", "?"))


NO_HOOKS = Hooks()
