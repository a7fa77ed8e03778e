"""Job options (the seeds' ``QueueJobOptions`` in Python spelling).

All durations are integer milliseconds, as in the seeds and BullMQ. ``None`` means "use the
queue's default" (see ``QueueDefaults``); ``JobOptions.resolve`` fills those in and checks every
rule, raising ``InvalidOptionError`` that names the field.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from enum import StrEnum

from domain.queue.errors import InvalidOptionError
from domain.queue.priority import HIGHEST_PRIORITY, LOWEST_PRIORITY, Priority

DAY_MS = 24 * 60 * 60 * 1000
DEFAULT_IDEMPOTENCY_TTL_MS = DAY_MS
MAX_DELAY_MS = 10 * 365 * DAY_MS
MAX_ATTEMPTS = 1000
MAX_JOB_ID_LENGTH = 200


class BackoffType(StrEnum):
    FIXED = "fixed"
    EXPONENTIAL = "exponential"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Wait between attempts: ``fixed`` = ``delay``; ``exponential`` = ``delay * 2**(n-1)``.

    ``max_delay`` caps the wait; ``jitter`` (0..1) spreads it by +-jitter (seed 001: 25%).
    """

    type: BackoffType = BackoffType.EXPONENTIAL
    delay: int = 2000
    max_delay: int | None = 15 * 60 * 1000
    jitter: float = 0.25

    def validate(self, prefix: str = "options.backoff") -> Backoff:
        try:
            kind = BackoffType(self.type)
        except (ValueError, TypeError):
            raise InvalidOptionError(f"{prefix}.type", "must be 'fixed' or 'exponential'") from None
        _check_int(f"{prefix}.delay", self.delay, 0, MAX_DELAY_MS)
        if self.max_delay is not None:
            _check_int(f"{prefix}.max_delay", self.max_delay, 0, MAX_DELAY_MS)
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, int | float):
            raise InvalidOptionError(f"{prefix}.jitter", "must be a number between 0 and 1")
        if not 0.0 <= float(self.jitter) <= 1.0:
            raise InvalidOptionError(
                f"{prefix}.jitter", "must be between 0 and 1", detail=f"got {self.jitter}"
            )
        return replace(self, type=kind, jitter=float(self.jitter))


@dataclass(frozen=True, slots=True)
class KeepJobs:
    """Retention of finished jobs: keep at most ``count`` newest and/or those younger than ``age`` ms.

    ``KeepJobs()`` keeps everything; ``KeepJobs(count=0)`` removes at once.
    """

    count: int | None = None
    age: int | None = None

    @staticmethod
    def of(value: bool | int | KeepJobs, field_name: str) -> KeepJobs:
        """Normalise the seeds' spelling: True = remove at once, False = keep, N = keep newest N."""
        if isinstance(value, KeepJobs):
            if value.count is not None:
                _check_int(f"{field_name}.count", value.count, 0, 10**9)
            if value.age is not None:
                _check_int(f"{field_name}.age", value.age, 0, MAX_DELAY_MS)
            return value
        if isinstance(value, bool):
            return KeepJobs(count=0) if value else KeepJobs()
        if isinstance(value, int):
            _check_int(field_name, value, 0, 10**9)
            return KeepJobs(count=value)
        raise InvalidOptionError(field_name, "must be a bool, a non-negative int or KeepJobs(count, age)")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``max`` jobs start per ``duration`` ms window, across every worker of the queue."""

    max: int
    duration: int

    def validate(self) -> RateLimit:
        _check_int("limiter.max", self.max, 1, 10**9)
        _check_int("limiter.duration", self.duration, 1, MAX_DELAY_MS)
        return self


DEFAULT_KEEP_LOGS = 100
MAX_KEEP_LOGS = 10_000


@dataclass(frozen=True, slots=True)
class QueueDefaults:
    """Per-queue defaults for options a job leaves as ``None``.

    ``QueueDefaults()`` is the one generic default, whatever the entry point: a ``JobFactory``
    built without defaults and a queue the topology table does not name both get it (seed 002's
    ``QUEUE_RETRY_CONFIG``: 5 attempts, exponential from 2 s capped at 15 min with jitter, 30 s
    timeout, the newest 50 completed kept, dead letters kept 30 days as seed 001 says).
    """

    attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    timeout: int | None = 30_000
    remove_on_complete: KeepJobs = field(default_factory=lambda: KeepJobs(count=50))
    remove_on_fail: KeepJobs = field(default_factory=lambda: KeepJobs(age=30 * DAY_MS))
    keep_logs: int = DEFAULT_KEEP_LOGS  # newest ``ctx.log`` lines kept per job (0: logs are not stored)


@dataclass(frozen=True, slots=True)
class JobOptions:
    """What a producer may set on one job. ``None`` fields take the queue's defaults."""

    delay: int = 0
    attempts: int | None = None
    priority: int = Priority.NORMAL
    backoff: Backoff | None = None
    timeout: int | None = None
    remove_on_complete: bool | int | KeepJobs | None = None
    remove_on_fail: bool | int | KeepJobs | None = None
    job_id: str | None = None
    idempotency_key: str | None = None
    idempotency_ttl: int = DEFAULT_IDEMPOTENCY_TTL_MS

    def resolve(self, defaults: QueueDefaults) -> ResolvedOptions:
        """Check every rule and fill in the queue defaults. Raises ``InvalidOptionError``."""
        if self.job_id is not None:
            _check_key("options.job_id", self.job_id)
        if self.idempotency_key is not None:
            _check_key("options.idempotency_key", self.idempotency_key)
        fields = (
            self.delay,
            self.attempts,
            self.priority,
            self.backoff,
            self.timeout,
            self.remove_on_complete,
            self.remove_on_fail,
            self.idempotency_ttl,
            defaults,
        )
        try:
            shared = _resolve_shared(*fields)
        except TypeError:  # an unhashable (so invalid) value: validate uncached for the right error
            shared = _resolve_shared.__wrapped__(*fields)
        if self.job_id is None and self.idempotency_key is None:
            return shared
        return replace(shared, job_id=self.job_id, idempotency_key=self.idempotency_key)

    def with_changes(self, **changes: object) -> JobOptions:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ResolvedOptions:
    """Options after defaults and validation: what is stored with the job."""

    delay: int
    attempts: int
    priority: int
    backoff: Backoff
    timeout: int | None
    remove_on_complete: KeepJobs
    remove_on_fail: KeepJobs
    job_id: str | None
    idempotency_key: str | None
    idempotency_ttl: int


@functools.lru_cache(maxsize=512)
def _resolve_shared(
    delay: int,
    attempts: int | None,
    priority: int,
    backoff: Backoff | None,
    timeout: int | None,
    remove_on_complete: bool | int | KeepJobs | None,
    remove_on_fail: bool | int | KeepJobs | None,
    idempotency_ttl: int,
    defaults: QueueDefaults,
) -> ResolvedOptions:
    """Everything but the ids, cached: most jobs of a queue share their options."""
    _check_int("options.delay", delay, 0, MAX_DELAY_MS)
    attempts = defaults.attempts if attempts is None else attempts
    _check_int("options.attempts", attempts, 1, MAX_ATTEMPTS)
    _check_int("options.priority", priority, HIGHEST_PRIORITY, LOWEST_PRIORITY)
    chosen_backoff = defaults.backoff if backoff is None else backoff
    if not isinstance(chosen_backoff, Backoff):
        raise InvalidOptionError(
            "options.backoff", "must be a Backoff or None", detail=f"got {type(chosen_backoff).__name__}"
        )
    resolved_backoff = chosen_backoff.validate()
    timeout = defaults.timeout if timeout is None else timeout
    if timeout is not None:
        _check_int("options.timeout", timeout, 1, MAX_DELAY_MS)
    keep_done = KeepJobs.of(
        defaults.remove_on_complete if remove_on_complete is None else remove_on_complete,
        "options.remove_on_complete",
    )
    keep_failed = KeepJobs.of(
        defaults.remove_on_fail if remove_on_fail is None else remove_on_fail, "options.remove_on_fail"
    )
    _check_int("options.idempotency_ttl", idempotency_ttl, 1, 365 * DAY_MS)
    return ResolvedOptions(
        delay=delay,
        attempts=attempts,
        priority=int(priority),
        backoff=resolved_backoff,
        timeout=timeout,
        remove_on_complete=keep_done,
        remove_on_fail=keep_failed,
        job_id=None,
        idempotency_key=None,
        idempotency_ttl=idempotency_ttl,
    )


def _check_int(field_name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionError(field_name, f"must be an integer in {low}..{high}", detail=f"got {value!r}")
    if not low <= value <= high:
        raise InvalidOptionError(field_name, f"must be in {low}..{high}", detail=f"got {value}")


def _check_key(field_name: str, value: object) -> None:
    if not isinstance(value, str) or not value or len(value) > MAX_JOB_ID_LENGTH:
        raise InvalidOptionError(
            field_name, f"must be a non-empty string of at most {MAX_JOB_ID_LENGTH} chars"
        )
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise InvalidOptionError(field_name, "must not contain whitespace or control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidOptionError(field_name, "must be valid Unicode text (no lone surrogates)") from None


def check_resolved(options: ResolvedOptions) -> ResolvedOptions:
    """Every rule ``JobOptions.resolve`` applies, on options read back from storage.

    A stored record written by a raw client may hold anything: this refuses (``InvalidOptionError``)
    what ``add`` could never have stored, so the reader treats the record as malformed.
    """
    _check_int("options.attempts", options.attempts, 1, MAX_ATTEMPTS)  # None would take a default
    if not isinstance(options.backoff, Backoff):
        raise InvalidOptionError("options.backoff", "must be a Backoff")
    for name in ("remove_on_complete", "remove_on_fail"):
        if not isinstance(getattr(options, name), KeepJobs):
            raise InvalidOptionError(f"options.{name}", "must be KeepJobs(count, age)")
    resolved = _resolve_shared.__wrapped__(
        options.delay,
        options.attempts,
        options.priority,
        options.backoff,
        options.timeout,
        options.remove_on_complete,
        options.remove_on_fail,
        options.idempotency_ttl,
        QueueDefaults(timeout=None),  # a stored timeout of None means none, not the default
    )
    if options.job_id is not None:
        _check_key("options.job_id", options.job_id)
    if options.idempotency_key is not None:
        _check_key("options.idempotency_key", options.idempotency_key)
    return replace(resolved, job_id=options.job_id, idempotency_key=options.idempotency_key)


__all__ = [
    "DAY_MS",
    "Backoff",
    "BackoffType",
    "JobOptions",
    "KeepJobs",
    "QueueDefaults",
    "RateLimit",
    "ResolvedOptions",
    "check_resolved",
]
