"""Job hash <-> domain ``Job``: one Redis hash per job, one field per attribute.

Field names (short, they are stored once per job): ``name``, ``data`` (the draft's JSON text),
``opts`` and ``meta`` (JSON), ``created``, ``state``, ``prio``, ``seq``, ``due``, ``progress`` (JSON),
``ret`` (JSON), ``reason``, ``stack`` (JSON list), ``as``/``am`` (attempts started/made), ``stalled``,
``pon``/``fon`` (processed/finished on), ``tok``/``lnum`` (the lease; its expiry is the score in ``active``),
``attempts`` and ``rc_*``/``rf_*`` (retention, read by the scripts), ``raw`` (bytes of a malformed record),
``hb`` (hand-backs by workers without a handler for the name, ADR 0017; absent = 0).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from adapters.redis.value_codec import (
    COMPACT_JSON,
    decode_metadata,
    decode_options,
    decode_progress,
    encode_metadata,
    encode_options,
    metadata_of,
    progress_of,
)
from application.queue_backend import JobDraft
from application.state_machine.records import MALFORMED_JOB_NAME, MALFORMED_OPTIONS
from application.state_machine.stored_json import MAX_JSON_DEPTH, decode_stored_json
from domain.queue.job import DeadLetter, Job, JobState
from domain.queue.metadata import JobMetadata
from domain.queue.options import ResolvedOptions


class MalformedJobHashError(ValueError):
    """A stored job hash that does not decode; ``raw`` is what is kept in the dead letter."""

    def __init__(self, reason: str, raw: bytes) -> None:
        super().__init__(reason)
        self.raw = raw


# --- encoding (add) ---------------------------------------------------------------------------


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # a \uD800..\uDFFF escape: maybe unpaired


def add_argument(drafts: Sequence[JobDraft]) -> str:
    """The one argument ``lua/add.lua`` reads: a JSON array with one entry per job."""
    return COMPACT_JSON.encode([_add_fields(draft) for draft in drafts])


def _add_fields(draft: JobDraft) -> list[Any]:
    options = draft.options
    fields: list[str] = [
        "name",
        draft.name,
        "data",
        draft.data_json,
        "meta",
        encode_metadata(draft.metadata),
        "created",
        str(draft.created_at),
    ]
    fields.extend(_option_fields(options))
    return [
        draft.id,
        options.idempotency_key or "",
        options.idempotency_ttl,
        options.delay,
        options.priority,
        fields,
    ]


_OPTION_FIELDS: dict[int, tuple[ResolvedOptions, tuple[str, ...]]] = {}


def _option_fields(options: ResolvedOptions) -> tuple[str, ...]:
    """The hash fields that follow from a job's options, cached by the options object itself.

    Jobs of one queue mostly share one options object (the factory's defaults, or the resolver's
    cached result for equal options), so the lookup is by identity: hashing the nested dataclass
    on every add would cost more than the fields. Options naming a job id or idempotency key are
    unique per job and miss either way.
    """
    cached = _OPTION_FIELDS.get(id(options))
    if cached is not None and cached[0] is options:
        return cached[1]
    fields = _build_option_fields(options)
    if len(_OPTION_FIELDS) >= 256:
        _OPTION_FIELDS.clear()
    _OPTION_FIELDS[id(options)] = (options, fields)  # the object is kept: its id is not reused
    return fields


def _build_option_fields(options: ResolvedOptions) -> tuple[str, ...]:
    """``opts``, ``prio``, ``attempts`` and the ``rc_*``/``rf_*`` retention bounds that are set
    (absent = unbounded)."""
    bounds = (
        ("rc_count", options.remove_on_complete.count),
        ("rc_age", options.remove_on_complete.age),
        ("rf_count", options.remove_on_fail.count),
        ("rf_age", options.remove_on_fail.age),
    )
    retention = tuple(part for name, value in bounds if value is not None for part in (name, str(value)))
    return (
        "opts",
        encode_options(options),
        "prio",
        str(options.priority),
        "attempts",
        str(options.attempts),
        *retention,
    )


Fields = Mapping[str, str]  # a job hash; values decoded with surrogateescape, so bytes survive


def pairs_to_dict(flat: list[bytes]) -> dict[str, str]:
    """An ``HGETALL`` reply as text fields (undecodable bytes kept as surrogate escapes)."""
    return {
        flat[i].decode("utf-8", "surrogateescape"): flat[i + 1].decode("utf-8", "surrogateescape")
        for i in range(0, len(flat), 2)
    }


def fields_from_mapping(stored: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """A redis-py ``hgetall`` reply (bytes, as this adapter's clients never decode) as text fields."""
    return {_text(key): _text(value) for key, value in stored.items()}


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _int(fields: Fields, name: str) -> int | None:
    value = fields.get(name)
    return None if value is None or value == "" else int(value)


def _stack(fields: Fields) -> tuple[str, ...]:
    raw = fields.get("stack")
    if not raw:
        return ()
    value = json.loads(raw)
    return tuple(str(entry) for entry in value) if isinstance(value, list) else ()


def decode_job(job_id: str, queue: str, fields: Fields, *, deduplicated: bool = False) -> Job:
    """The domain snapshot of a stored job hash; raises ``MalformedJobHashError`` if it does not decode."""
    try:
        return _decode(job_id, queue, fields, deduplicated)
    except Exception as exc:  # any reason at all (bad JSON, wrong types, RecursionError): malformed
        reason = safe_text(f"job hash does not decode: {type(exc).__name__}: {exc}")
        raise MalformedJobHashError(reason, _raw_of(fields)) from exc


def decode_claimable(job_id: str, queue: str, fields: Fields) -> Job:
    """``decode_job`` for a job a worker just claimed (state ``active``); its id must also be UTF-8
    text, as the worker names it in every later call (complete, fail, extend)."""
    try:
        job_id.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedJobHashError("job id is not UTF-8 text", _raw_of(fields)) from None
    return replace(decode_job(job_id, queue, fields), state=JobState.ACTIVE)


def safe_text(text: str) -> str:
    """``text`` with anything that is not valid Unicode escaped: safe to store, log and encode."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def wire_text(text: str) -> bytes | None:
    """Text as the bytes Redis holds: escapes made by ``surrogateescape`` (bytes read back that
    were not UTF-8) become those bytes again. None for text no stored key can hold."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return None


def _decode(job_id: str, queue: str, fields: Fields, deduplicated: bool) -> Job:
    created = int(fields["created"])
    malformed = "malformed" in fields
    if malformed:
        options = MALFORMED_OPTIONS
        metadata = JobMetadata(correlation_id=job_id, source="malformed-record", timestamp=created)
        data = None
    else:
        options = decode_options(fields["opts"])
        metadata = decode_metadata(fields["meta"])
        text = fields["data"]
        if not isinstance(text, str):
            raise TypeError("data must be text")
        text.encode("utf-8")  # strict: bytes that were not UTF-8 make the payload undecodable
        data = decode_stored_json(text)
    ret = fields.get("ret")
    raw = fields.get("raw")
    return Job(
        id=job_id,
        queue=queue,
        name=fields["name"].encode("utf-8").decode("utf-8"),
        data=data,
        options=options,
        metadata=metadata,
        state=JobState(fields["state"]),
        created_at=created,
        progress=decode_progress(fields.get("progress")),
        return_value=None if ret is None else decode_stored_json(ret, "return value"),
        failed_reason=fields.get("reason"),
        stacktrace=_stack(fields),
        attempts_started=_int(fields, "as") or 0,
        attempts_made=_int(fields, "am") or 0,
        processed_on=_int(fields, "pon"),
        finished_on=_int(fields, "fon"),
        due_at=_int(fields, "due"),
        hand_backs=_int(fields, "hb") or 0,
        deduplicated=deduplicated,
        raw_record=raw.encode("utf-8", "surrogateescape") if malformed and raw is not None else None,
    )


def _raw_of(fields: Fields) -> bytes:
    """The original bytes kept with a malformed job: its payload if that is what broke, else all fields."""
    data = fields.get("data")
    if data is not None:
        raw = data.encode("utf-8", "surrogateescape")
        try:
            data.encode("utf-8")  # strict: bytes that were not UTF-8 broke it
            decode_stored_json(data)
        except Exception:  # any failure (StoredJsonError, UnicodeEncodeError) means the payload broke
            return raw
    parts = {
        key: value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        for key, value in fields.items()
    }
    return json.dumps(parts, ensure_ascii=False).encode("utf-8")


def decode_claimed_batch(entries: Sequence[bytes]) -> list[Any] | None:
    """Every job of one ``claim.lua`` reply parsed in one go (one JSON document for the batch).

    None if some job's stored JSON does not parse: then each is decoded on its own, so only the
    broken one is dead-lettered.
    """
    joined = b"[" + b",".join(entries) + b"]"
    if joined.count(b"[") + joined.count(b"{") > MAX_JSON_DEPTH or _SURROGATE_ESCAPE.search(joined):
        return None  # maybe too deep or an unpaired surrogate: each job is checked on its own
    try:
        decoded = json.loads(joined)
    except Exception:  # any failure (RecursionError too): decode one by one
        return None
    return decoded if isinstance(decoded, list) and len(decoded) == len(entries) else None


def decode_claimed(blob: bytes | list[Any], queue: str) -> tuple[str, Job]:
    """(token, job) from one job of ``claim.lua``'s reply (its bytes, or already parsed);
    any exception if anything is off.

    The caller then falls back to ``decode_job`` on the stored hash, which decides field by field.
    """
    # bytes: the stored-JSON rule of every broker (depth, unpaired surrogates, any failure; ADR 0012)
    fields = decode_stored_json(blob.decode("utf-8"), "claimed job") if isinstance(blob, bytes) else blob
    token, job_id, name, data, opts, meta, created, started, made, progress, ret, reason, stack = fields[:13]
    processed_on, finished_on, hand_backs = fields[13:]
    if type(hand_backs) is not int:
        raise TypeError("claimed job has a hand-back count that is not an integer")
    if not (
        isinstance(job_id, str) and isinstance(name, str) and type(created) is int and isinstance(stack, list)
    ):
        raise TypeError("claimed job has fields of the wrong type")
    return token, Job(
        id=job_id,
        queue=queue,
        name=name,
        data=data,
        options=decode_options(opts),
        metadata=metadata_of(meta),
        state=JobState.ACTIVE,
        created_at=created,
        progress=progress_of(progress),
        return_value=ret,
        failed_reason=reason,
        stacktrace=tuple(str(entry) for entry in stack),
        attempts_started=int(started),
        attempts_made=int(made),
        processed_on=int(processed_on),
        finished_on=None if finished_on is None else int(finished_on),
        hand_backs=hand_backs,
    )


def to_dead_letter(job: Job) -> DeadLetter:
    """The operator's view of a failed job (as ``JobRecord.to_dead_letter`` builds it)."""
    return DeadLetter(
        job_id=job.id,
        queue=job.queue,
        name=job.name,
        reason=job.failed_reason or "",
        attempts_made=job.attempts_made,
        attempts_started=job.attempts_started,
        failed_at=job.finished_on or job.created_at,
        last_error=job.stacktrace[-1] if job.stacktrace else None,
        correlation_id=job.metadata.correlation_id or "",
        data=job.data,
        raw_record=job.raw_record,
    )


def removed_job(draft: JobDraft, original_id: str, queue: str) -> Job:
    """What a deduplicated add returns when the original job no longer exists."""
    return Job(
        id=original_id,
        queue=queue,
        name=draft.name,
        data=None,
        options=draft.options,
        metadata=draft.metadata,
        state=JobState.REMOVED,
        created_at=draft.created_at,
        deduplicated=True,
    )


def payloads_of(drafts: Sequence[JobDraft]) -> list[Any]:
    """Each draft's payload as a fresh JSON value (one parse for all: they are our own JSON)."""
    payloads: list[Any] = json.loads("[" + ",".join(draft.data_json for draft in drafts) + "]")
    return payloads


def new_job(draft: JobDraft, data: Any, queue: str, state: str, due: str) -> Job:
    """The snapshot of a job ``add.lua`` just stored (no read-back needed); ``data`` is its payload."""
    return Job(
        id=draft.id,
        queue=queue,
        name=draft.name,
        data=data,
        options=draft.options,
        metadata=draft.metadata,
        state=JobState.WAITING if state == "waiting" else JobState(state),
        created_at=draft.created_at,
        due_at=int(due) if due else None,
    )


def malformed_job(job_id: str, queue: str, error: MalformedJobHashError, *, deduplicated: bool) -> Job:
    """A stored job whose hash does not decode, as a snapshot: the malformed-record kind, with its
    raw bytes (a worker claiming it dead-letters it so)."""
    return Job(
        id=job_id,
        queue=queue,
        name=MALFORMED_JOB_NAME,
        data=None,
        options=MALFORMED_OPTIONS,
        metadata=JobMetadata(correlation_id=safe_text(job_id), source="malformed-record"),
        state=JobState.FAILED,
        created_at=0,
        failed_reason=str(error),
        deduplicated=deduplicated,
        raw_record=error.raw,
    )


def malformed_dead_letter(job_id: str, queue: str, error: MalformedJobHashError) -> DeadLetter:
    """How a dead letter whose stored hash does not decode is listed: its raw bytes and the reason."""
    return DeadLetter(
        job_id=job_id,
        queue=queue,
        name=MALFORMED_JOB_NAME,
        reason=str(error),
        attempts_made=0,
        attempts_started=0,
        failed_at=0,
        last_error=str(error),
        correlation_id=safe_text(job_id),
        data=None,
        raw_record=error.raw,
    )


__all__ = ["MALFORMED_JOB_NAME", "MalformedJobHashError", "decode_job"]
