"""JSON-ready encoding of the value objects events and snapshots carry, with strict decoding.

Shared by ``event_codec`` and ``snapshot_codec``. Decoders check every type (a record written by
a raw client must never reach the state machine half-valid) and raise ``CodecError``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from typing import Any, NoReturn

from application.queue_backend import JobDraft, LeaseRef
from application.state_machine.stored_json import StoredJsonError, decode_stored_json, value_depth_exceeds
from domain.queue.errors import InvalidOptionError
from domain.queue.job import DeadLetterFilter, JobProgress, JobState, Progress
from domain.queue.metadata import JobMetadata, UserRef
from domain.queue.options import Backoff, BackoffType, KeepJobs, RateLimit, ResolvedOptions
from domain.queue.tenancy import TenantPolicy

Obj = dict[str, Any]


class CodecError(ValueError):
    """Bytes that are not a valid record or snapshot; ``reason`` says why (safe to store and log)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def fail(reason: str) -> NoReturn:
    raise CodecError(reason)


# --- strict readers -------------------------------------------------------------------------------


def obj(value: Any, what: str) -> Obj:
    if not isinstance(value, dict):
        fail(f"{what} must be an object")
    return value


def get_int(d: Obj, key: str) -> int:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        fail(f"field {key!r} must be an integer")
    return value


def get_opt_int(d: Obj, key: str) -> int | None:
    return None if d.get(key) is None else get_int(d, key)


def get_str(d: Obj, key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        fail(f"field {key!r} must be a string")
    return value


def get_opt_str(d: Obj, key: str) -> str | None:
    return None if d.get(key) is None else get_str(d, key)


def get_bool(d: Obj, key: str) -> bool:
    value = d.get(key)
    if not isinstance(value, bool):
        fail(f"field {key!r} must be a boolean")
    return value


def get_list(d: Obj, key: str) -> list[Any]:
    value = d.get(key)
    if not isinstance(value, list):
        fail(f"field {key!r} must be a list")
    return value


def get_number(d: Obj, key: str) -> float | int:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(f"field {key!r} must be a number")
    return value


def get_state(d: Obj, key: str) -> JobState:
    try:
        return JobState(get_str(d, key))
    except ValueError:
        fail(f"field {key!r} is not a job state")


def get_opt_json_text(d: Obj, key: str) -> str | None:
    """JSON text stored as a string (a job's data, a return value) that must decode."""
    text = get_opt_str(d, key)
    if text is not None:
        try:
            decode_stored_json(text, f"field {key!r}")
        except StoredJsonError as exc:
            fail(exc.reason)
    return text


def json_object(value: Any, what: str) -> Obj:
    """A free-form JSON object (business context, progress data), no deeper than the decode limit."""
    d = obj(value, what)
    if d and value_depth_exceeds(d):
        fail(f"{what} nests too deep")
    return d


def encode_bytes(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def decode_bytes(d: Obj, key: str) -> bytes:
    try:
        return base64.b64decode(get_str(d, key), validate=True)
    except (binascii.Error, ValueError):
        fail(f"field {key!r} must be base64")


def get_opt_bytes(d: Obj, key: str) -> bytes | None:
    return None if d.get(key) is None else decode_bytes(d, key)


# --- value objects --------------------------------------------------------------------------------


def encode_keep(keep: KeepJobs) -> Obj:
    return {"count": keep.count, "age": keep.age}


def decode_keep(value: Any) -> KeepJobs:
    d = obj(value, "keep")
    return KeepJobs(count=get_opt_int(d, "count"), age=get_opt_int(d, "age"))


def encode_backoff(backoff: Backoff) -> Obj:
    return {
        "type": str(backoff.type),
        "delay": backoff.delay,
        "max_delay": backoff.max_delay,
        "jitter": backoff.jitter,
    }


def decode_backoff(value: Any) -> Backoff:
    d = obj(value, "backoff")
    try:
        kind = BackoffType(get_str(d, "type"))
    except ValueError:
        fail("backoff type must be 'fixed' or 'exponential'")
    return Backoff(
        type=kind,
        delay=get_int(d, "delay"),
        max_delay=get_opt_int(d, "max_delay"),
        jitter=get_number(d, "jitter"),
    )


def encode_options(o: ResolvedOptions) -> Obj:
    return {
        "delay": o.delay,
        "attempts": o.attempts,
        "priority": o.priority,
        "backoff": encode_backoff(o.backoff),
        "timeout": o.timeout,
        "keep_done": encode_keep(o.remove_on_complete),
        "keep_failed": encode_keep(o.remove_on_fail),
        "job_id": o.job_id,
        "idem_key": o.idempotency_key,
        "idem_ttl": o.idempotency_ttl,
    }


def decode_options(value: Any) -> ResolvedOptions:
    d = obj(value, "options")
    options = ResolvedOptions(
        delay=get_int(d, "delay"),
        attempts=get_int(d, "attempts"),
        priority=get_int(d, "priority"),
        backoff=decode_backoff(d.get("backoff")),
        timeout=get_opt_int(d, "timeout"),
        remove_on_complete=decode_keep(d.get("keep_done")),
        remove_on_fail=decode_keep(d.get("keep_failed")),
        job_id=get_opt_str(d, "job_id"),
        idempotency_key=get_opt_str(d, "idem_key"),
        idempotency_ttl=get_int(d, "idem_ttl"),
    )
    if options.delay < 0 or options.attempts < 1 or options.idempotency_ttl < 1:
        fail("options out of range")
    return options


def encode_user(user: UserRef | None) -> Obj | None:
    if user is None:
        return None
    return {
        "sub": user.sub,
        "tenant": user.tenant,
        "roles": list(user.roles),
        "display_name": user.display_name,
        "email": user.email,
    }


def decode_user(value: Any) -> UserRef | None:
    if value is None:
        return None
    d = obj(value, "user")
    roles = get_list(d, "roles")
    if not all(isinstance(role, str) for role in roles):
        fail("user roles must be strings")
    return UserRef(
        sub=get_str(d, "sub"),
        tenant=get_opt_str(d, "tenant"),
        roles=tuple(roles),
        display_name=get_opt_str(d, "display_name"),
        email=get_opt_str(d, "email"),
    )


def encode_metadata(m: JobMetadata) -> Obj:
    encoded: Obj = {
        "correlation_id": m.correlation_id,
        "tenant_id": m.tenant_id,
        "user": encode_user(m.user),
        "source": m.source,
        "timestamp": m.timestamp,
        "context": m.business_context,
    }
    if m.headers:  # only when set: records and snapshots without headers are unchanged (ADR 0016)
        encoded["headers"] = m.headers
    return encoded


def decode_metadata(value: Any) -> JobMetadata:
    d = obj(value, "metadata")
    return JobMetadata(
        correlation_id=get_opt_str(d, "correlation_id"),
        tenant_id=get_opt_str(d, "tenant_id"),
        user=decode_user(d.get("user")),
        source=get_opt_str(d, "source"),
        timestamp=get_opt_int(d, "timestamp"),
        business_context=json_object(d.get("context"), "metadata context"),
        headers=_headers(d.get("headers")),
    )


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    headers = obj(value, "metadata headers")
    if not all(isinstance(text, str) for text in headers.values()):
        fail("metadata headers must map text to text")
    return headers


@functools.lru_cache(maxsize=256)
def options_text(options: ResolvedOptions) -> str:
    """Options as compact JSON text (most jobs of a queue share them: cached both ways).

    Only options every replica decodes back to equal options are encoded (checked once per
    distinct options, on a cache miss): else ``InvalidOptionError``.
    """
    text = json.dumps(encode_options(options), separators=(",", ":"))
    try:
        decoded = options_from_text(text)
    except CodecError as exc:
        raise InvalidOptionError(
            "options", "must be resolved options every process decodes", detail=exc.reason
        ) from None
    if decoded != options:
        raise InvalidOptionError("options", "must be resolved options every process decodes", detail=text)
    return text


def check_options(options: Any) -> None:
    """Options are checked where they are encoded (``options_text``, once per distinct options)."""
    if not isinstance(options, ResolvedOptions):
        raise InvalidOptionError("options", "must be ResolvedOptions", detail=f"got {type(options).__name__}")


@functools.lru_cache(maxsize=256)
def options_from_text(text: str) -> ResolvedOptions:
    try:
        value = json.loads(text)
    except Exception:
        fail("options must be JSON text")
    return decode_options(value)


def encode_draft(draft: JobDraft) -> Obj:
    return {
        "id": draft.id,
        "name": draft.name,
        "data": draft.data_json,
        "options": options_text(draft.options),
        "metadata": encode_metadata(draft.metadata),
        "created_at": draft.created_at,
    }


def decode_draft(value: Any) -> JobDraft:
    d = obj(value, "draft")
    return JobDraft(
        id=get_str(d, "id"),
        name=get_str(d, "name"),
        data_json=get_str(d, "data"),
        options=options_from_text(get_str(d, "options")),
        metadata=decode_metadata(d.get("metadata")),
        created_at=get_int(d, "created_at"),
    )


def encode_lease(lease: LeaseRef) -> list[str]:
    return [lease.job_id, lease.token]


def decode_lease(value: Any) -> LeaseRef:
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(part, str) for part in value):
        fail("a lease must be [job_id, token]")
    return LeaseRef(job_id=value[0], token=value[1])


def encode_progress(progress: Progress) -> Any:
    if isinstance(progress, JobProgress):
        return {
            "percentage": progress.percentage,
            "step": progress.step,
            "total_steps": progress.total_steps,
            "current_step": progress.current_step,
            "data": progress.data,
        }
    return progress


def decode_progress(value: Any) -> Progress:
    if isinstance(value, bool):
        fail("progress must be a number or an object")
    if isinstance(value, int | float):
        return value
    d = obj(value, "progress")
    data = d.get("data")
    return JobProgress(
        percentage=get_number(d, "percentage"),
        step=get_opt_str(d, "step"),
        total_steps=get_opt_int(d, "total_steps"),
        current_step=get_opt_int(d, "current_step"),
        data=None if data is None else json_object(data, "progress data"),
    )


def encode_limiter(limit: RateLimit | None) -> list[int] | None:
    return None if limit is None else [limit.max, limit.duration]


def decode_limiter(value: Any) -> RateLimit | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(part, int) and not isinstance(part, bool) and part >= 1 for part in value)
    ):
        fail("limiter must be [max, duration] with both >= 1")
    return RateLimit(max=value[0], duration=value[1])


def encode_tenancy(policy: TenantPolicy) -> Obj:
    return {
        "max_active": policy.max_active,
        "max_starts": policy.max_starts,
        "window_ms": policy.window_ms,
        "weights": [[tenant, weight] for tenant, weight in policy.weights],
    }


def decode_tenancy(value: Any) -> TenantPolicy | None:
    if value is None:
        return None
    d = obj(value, "tenancy")
    weights = get_list(d, "weights")
    if not all(isinstance(pair, list) and len(pair) == 2 for pair in weights):
        fail("tenancy.weights must be [tenant, weight] pairs")
    policy = TenantPolicy(
        max_active=get_opt_int(d, "max_active"),
        max_starts=get_opt_int(d, "max_starts"),
        window_ms=get_opt_int(d, "window_ms"),
        weights=tuple((pair[0], pair[1]) for pair in weights),
    )
    try:
        return policy.validate()
    except InvalidOptionError as exc:
        fail(str(exc))


def encode_filter(selection: DeadLetterFilter | None) -> Obj | None:
    if selection is None:
        return None
    return {
        "name": selection.name,
        "reason_contains": selection.reason_contains,
        "failed_after": selection.failed_after,
        "failed_before": selection.failed_before,
        "job_ids": None if selection.job_ids is None else sorted(selection.job_ids),
    }


def decode_filter(value: Any) -> DeadLetterFilter | None:
    if value is None:
        return None
    d = obj(value, "selection")
    ids = d.get("job_ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        fail("selection job_ids must be a list of strings")
    return DeadLetterFilter(
        name=get_opt_str(d, "name"),
        reason_contains=get_opt_str(d, "reason_contains"),
        failed_after=get_opt_int(d, "failed_after"),
        failed_before=get_opt_int(d, "failed_before"),
        job_ids=None if ids is None else frozenset(ids),
    )
