"""JSON of the values stored inside a job hash: options, metadata and progress.

Options and metadata are stored as compact JSON arrays (written once per job, read on every claim);
decoding options is cached, as most jobs of a queue share the same options.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from domain.queue.job import JobProgress, Progress
from domain.queue.metadata import MAX_TIMESTAMP_MS, JobMetadata, UserRef
from domain.queue.options import Backoff, BackoffType, KeepJobs, ResolvedOptions, check_resolved


@lru_cache(maxsize=256)
def encode_options(options: ResolvedOptions) -> str:
    backoff = options.backoff
    return json.dumps(
        {
            "delay": options.delay,
            "attempts": options.attempts,
            "priority": options.priority,
            "backoff": [str(backoff.type), backoff.delay, backoff.max_delay, backoff.jitter],
            "timeout": options.timeout,
            "rc": [options.remove_on_complete.count, options.remove_on_complete.age],
            "rf": [options.remove_on_fail.count, options.remove_on_fail.age],
            "job_id": options.job_id,
            "idem": options.idempotency_key,
            "idem_ttl": options.idempotency_ttl,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


# One encoder, built once: ``json.dumps`` with non-default options builds a new one per call.
COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode_metadata(metadata: JobMetadata) -> str:
    """``[correlation_id, tenant_id, user, source, timestamp, business_context]`` (user as a list too),
    plus ``headers`` as a 7th element when there are any (ADR 0016)."""
    user = metadata.user
    fields: list[Any] = [
        metadata.correlation_id,
        metadata.tenant_id,
        None if user is None else [user.sub, user.tenant, list(user.roles), user.display_name, user.email],
        metadata.source,
        metadata.timestamp,
        metadata.business_context,
    ]
    if metadata.headers:
        fields.append(metadata.headers)
    return COMPACT_JSON.encode(fields)


def encode_progress(progress: Progress) -> str:
    if isinstance(progress, JobProgress):
        return json.dumps(
            {
                "percentage": progress.percentage,
                "step": progress.step,
                "total_steps": progress.total_steps,
                "current_step": progress.current_step,
                "data": progress.data,
            },
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    return json.dumps(progress, allow_nan=False)


# --- decoding (reads) -------------------------------------------------------------------------


@lru_cache(maxsize=256)
def decode_options(text: str) -> ResolvedOptions:
    value = json.loads(text)
    kind, delay, max_delay, jitter = value["backoff"]
    rc_count, rc_age = value["rc"]
    rf_count, rf_age = value["rf"]
    options = ResolvedOptions(
        delay=value["delay"],
        attempts=value["attempts"],
        priority=value["priority"],
        backoff=Backoff(type=BackoffType(kind), delay=delay, max_delay=max_delay, jitter=jitter),
        timeout=value["timeout"],
        remove_on_complete=KeepJobs(count=rc_count, age=rc_age),
        remove_on_fail=KeepJobs(count=rf_count, age=rf_age),
        job_id=value["job_id"],
        idempotency_key=value["idem"],
        idempotency_ttl=value["idem_ttl"],
    )
    return check_resolved(options)  # a raw write may hold any types: refused here, not in a worker slot


def decode_metadata(text: str) -> JobMetadata:
    return metadata_of(json.loads(text))


def metadata_of(value: list[Any]) -> JobMetadata:
    """The metadata of a stored job, with every type checked (``InvalidMetadataError`` otherwise)."""
    correlation_id, tenant_id, user, source, timestamp, business_context, *rest = value
    headers = rest[0] if rest else {}
    if len(rest) > 1 or not isinstance(headers, dict):
        raise ValueError("metadata headers must be one object")
    if headers and not all(isinstance(key, str) and isinstance(text, str) for key, text in headers.items()):
        raise ValueError("metadata headers must map text to text")
    if user is not None:
        sub, tenant, roles, display_name, email = user
        if not isinstance(roles, list):
            raise TypeError("user roles must be a list")
        user = UserRef(sub, tenant, tuple(roles), display_name, email)
    metadata = JobMetadata(correlation_id, tenant_id, user, source, timestamp, business_context, headers)
    plain = (
        user is None
        and type(business_context) is dict
        and not business_context
        and type(timestamp) is int
        and 0 <= timestamp <= MAX_TIMESTAMP_MS
        and _short_ascii(correlation_id)
        and _short_ascii(source)
        and _short_ascii(tenant_id)
    )
    return metadata if plain else metadata.validate()  # plain: what most jobs carry, valid by inspection


def _short_ascii(text: object) -> bool:
    """None, or ASCII text well within the metadata length limit (so certainly valid)."""
    return text is None or (type(text) is str and len(text) <= 200 and text.isascii())


def decode_progress(text: str | None) -> Progress:
    return 0 if text is None else progress_of(json.loads(text))


def progress_of(value: Any) -> Progress:
    if isinstance(value, dict):
        return JobProgress(
            percentage=value["percentage"],
            step=value.get("step"),
            total_steps=value.get("total_steps"),
            current_step=value.get("current_step"),
            data=value.get("data"),
        )
    if not isinstance(value, int | float):
        raise ValueError("progress must be a number or an object")
    return value
