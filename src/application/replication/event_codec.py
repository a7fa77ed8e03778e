"""Queue events <-> log record bytes.

A record is one JSON object: ``{"v": 1, "a": appender_id, "b": [[nonce, event], ...]}``. It holds
a batch of events from one process, applied in order; ``nonce`` lets the appender find the
outcome of its own events. Each event is an object with a type tag ``"t"``. Anything else a raw
client may write (bad bytes, null, unknown event, wrong schema) raises ``CodecError`` with a reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from application.queue_backend import LeaseRef
from application.replication import value_codec as vc
from application.replication.event_checks import check_event
from application.replication.value_codec import CodecError, Obj, fail
from application.state_machine import events as ev
from application.state_machine.stored_json import has_lone_surrogate
from domain.queue.errors import InvalidOptionError

RECORD_VERSION = 1
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_json_str = json.encoder.encode_basestring  # a str as a JSON string literal (C-accelerated)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # a surrogate escape: check that it is paired
RECORD_OVERHEAD_BYTES = 256  # a record's bytes beyond its entries (version, appender id, brackets)


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    appender: str
    entries: tuple[tuple[int, ev.QueueEvent], ...]  # (nonce, event)


# --- encoding -------------------------------------------------------------------------------------


def _encode_event(event: ev.QueueEvent) -> Obj:
    match event:
        case ev.Add():
            return {"t": "add", "now": event.now, "drafts": [vc.encode_draft(d) for d in event.drafts]}
        case ev.Claim():
            return {
                "t": "claim",
                "now": event.now,
                "worker": event.worker_id,
                "max": event.max_jobs,
                "lease_ms": event.lease_ms,
                "limiter": vc.encode_limiter(event.limiter),
                **({} if event.tenancy is None else {"tenancy": vc.encode_tenancy(event.tenancy)}),
            }
        case ev.Extend():
            return {
                "t": "extend",
                "now": event.now,
                "worker": event.worker_id,
                "leases": [vc.encode_lease(lease) for lease in event.leases],
                "lease_ms": event.lease_ms,
            }
        case ev.UpdateProgress():
            return {
                "t": "progress",
                "now": event.now,
                "lease": vc.encode_lease(event.lease),
                "progress": vc.encode_progress(event.progress),
            }
        case ev.Complete():
            return {
                "t": "complete",
                "now": event.now,
                "lease": vc.encode_lease(event.lease),
                "ret": event.return_json,
            }
        case ev.Fail():
            return {
                "t": "fail",
                "now": event.now,
                "lease": vc.encode_lease(event.lease),
                "reason": event.reason,
                "stack": event.stacktrace,
                "retry_ms": event.retry_delay_ms,
            }
        case ev.Release():
            return {
                "t": "release",
                "now": event.now,
                "worker": event.worker_id,
                "leases": [vc.encode_lease(lease) for lease in event.leases],
            }
        case ev.HandBack():
            return {
                "t": "hand_back",
                "now": event.now,
                "lease": vc.encode_lease(event.lease),
                "delay_ms": event.delay_ms,
            }
        case ev.Remove():
            return {"t": "remove", "now": event.now, "id": event.job_id}
        case ev.ReplaceData():
            return {
                "t": "replace_data",
                "now": event.now,
                "id": event.job_id,
                "expected": event.expected_json,
                "data": event.data_json,
            }
        case ev.Pause():
            return {"t": "pause", "now": event.now}
        case ev.Resume():
            return {"t": "resume", "now": event.now}
        case ev.Clean():
            return {
                "t": "clean",
                "now": event.now,
                "grace_ms": event.grace_ms,
                "state": str(event.state),
                "limit": event.limit,
            }
        case ev.Drain():
            return {"t": "drain", "now": event.now}
        case ev.Reprocess():
            return {"t": "reprocess", "now": event.now, "id": event.job_id}
        case ev.ReprocessAll():
            return {"t": "reprocess_all", "now": event.now, "selection": vc.encode_filter(event.selection)}
        case ev.PurgeDeadLetters():
            return {"t": "purge", "now": event.now, "older_than_ms": event.older_than_ms}
        case ev.RecordMalformed():
            return {
                "t": "malformed",
                "now": event.now,
                "id": event.job_id,
                "raw": vc.encode_bytes(event.raw),
                "reason": event.reason,
            }
        case ev.AppendLog():
            return {
                "t": "log",
                "now": event.now,
                "lease": vc.encode_lease(event.lease),
                "text": event.text,
                "keep": event.keep,
            }
        case ev.PutSchedule():
            return {"t": "schedule", "now": event.now, "name": event.name, "def": event.definition}
        case ev.Tick():
            return {"t": "tick", "now": event.now}
    raise TypeError(f"not a queue event: {type(event).__name__}")


def encode_entry(nonce: int, event: ev.QueueEvent) -> bytes:
    """One ``[nonce, event]`` entry as UTF-8 JSON (records are built by joining entries).

    Only events that every replica decodes back to an equal event are encoded (``check_event``);
    anything else raises ``InvalidOptionError`` naming the field, as does a value that is not
    JSON-encodable or a string that is not encodable as UTF-8 (a lone surrogate).
    """
    if type(event) is ev.Complete:  # one per job: formatted directly (same JSON as the general path)
        lease = event.lease
        if (
            type(event.now) is int
            and type(lease) is LeaseRef
            and type(lease.job_id) is str
            and type(lease.token) is str
            and type(event.return_json) is str
        ):
            text = (
                f'[{nonce},{{"t":"complete","now":{event.now},"lease":[{_json_str(lease.job_id)},'
                f'{_json_str(lease.token)}],"ret":{_json_str(event.return_json)}}}]'
            )
            return _utf8(text)
    check_event(event)
    try:
        text = _ENCODER.encode([nonce, _encode_event(event)])
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidOptionError("event", "must be JSON-encodable", detail=str(exc)[:200]) from None
    return _utf8(text)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidOptionError(
            "event", "strings must be encodable as UTF-8 (no lone surrogates)", detail=exc.reason
        ) from None


def encode_record(appender: str, entries: Sequence[bytes]) -> bytes:
    """A record from entries made by ``encode_entry`` (UTF-8 encoded)."""
    head = json.dumps({"v": RECORD_VERSION, "a": appender}, separators=(",", ":"))
    return head[:-1].encode("utf-8") + b',"b":[' + b",".join(entries) + b"]}"


def encode_events(appender: str, events: Sequence[tuple[int, ev.QueueEvent]]) -> bytes:
    return encode_record(appender, [encode_entry(nonce, event) for nonce, event in events])


# --- decoding -------------------------------------------------------------------------------------


def _now(d: Obj) -> int:
    return vc.get_int(d, "now")


def _leases(d: Obj) -> tuple[LeaseRef, ...]:
    return tuple(vc.decode_lease(item) for item in vc.get_list(d, "leases"))


def _positive(value: int, field: str) -> int:
    if value < 0:
        fail(f"field {field!r} must be >= 0")
    return value


def _add(d: Obj) -> ev.Add:
    return ev.Add(drafts=tuple(vc.decode_draft(item) for item in vc.get_list(d, "drafts")), now=_now(d))


def _claim(d: Obj) -> ev.Claim:
    return ev.Claim(
        worker_id=vc.get_str(d, "worker"),
        max_jobs=vc.get_int(d, "max"),
        lease_ms=_positive(vc.get_int(d, "lease_ms"), "lease_ms"),
        now=_now(d),
        limiter=vc.decode_limiter(d.get("limiter")),
        tenancy=vc.decode_tenancy(d.get("tenancy")),
    )


def _extend(d: Obj) -> ev.Extend:
    return ev.Extend(
        worker_id=vc.get_str(d, "worker"),
        leases=_leases(d),
        lease_ms=_positive(vc.get_int(d, "lease_ms"), "lease_ms"),
        now=_now(d),
    )


def _progress(d: Obj) -> ev.UpdateProgress:
    return ev.UpdateProgress(
        lease=vc.decode_lease(d.get("lease")), progress=vc.decode_progress(d.get("progress")), now=_now(d)
    )


def _complete(d: Obj) -> ev.Complete:
    return ev.Complete(lease=vc.decode_lease(d.get("lease")), return_json=vc.get_str(d, "ret"), now=_now(d))


def _fail(d: Obj) -> ev.Fail:
    retry = vc.get_opt_int(d, "retry_ms")
    return ev.Fail(
        lease=vc.decode_lease(d.get("lease")),
        reason=vc.get_str(d, "reason"),
        stacktrace=vc.get_opt_str(d, "stack"),
        retry_delay_ms=None if retry is None else _positive(retry, "retry_ms"),
        now=_now(d),
    )


def _release(d: Obj) -> ev.Release:
    return ev.Release(worker_id=vc.get_str(d, "worker"), leases=_leases(d), now=_now(d))


def _hand_back(d: Obj) -> ev.HandBack:
    return ev.HandBack(
        lease=vc.decode_lease(d.get("lease")),
        delay_ms=_positive(vc.get_int(d, "delay_ms"), "delay_ms"),
        now=_now(d),
    )


def _clean(d: Obj) -> ev.Clean:
    return ev.Clean(
        grace_ms=vc.get_int(d, "grace_ms"),
        state=vc.get_state(d, "state"),
        limit=vc.get_int(d, "limit"),
        now=_now(d),
    )


def _malformed(d: Obj) -> ev.RecordMalformed:
    return ev.RecordMalformed(
        job_id=vc.get_str(d, "id"), raw=vc.decode_bytes(d, "raw"), reason=vc.get_str(d, "reason"), now=_now(d)
    )


def _append_log(d: Obj) -> ev.AppendLog:
    return ev.AppendLog(
        lease=vc.decode_lease(d.get("lease")),
        text=vc.get_str(d, "text"),
        keep=_positive(vc.get_int(d, "keep"), "keep"),
        now=_now(d),
    )


_DECODERS: dict[str, Callable[[Obj], ev.QueueEvent]] = {
    "add": _add,
    "claim": _claim,
    "extend": _extend,
    "progress": _progress,
    "complete": _complete,
    "fail": _fail,
    "release": _release,
    "hand_back": _hand_back,
    "remove": lambda d: ev.Remove(job_id=vc.get_str(d, "id"), now=_now(d)),
    "pause": lambda d: ev.Pause(now=_now(d)),
    "resume": lambda d: ev.Resume(now=_now(d)),
    "clean": _clean,
    "drain": lambda d: ev.Drain(now=_now(d)),
    "reprocess": lambda d: ev.Reprocess(job_id=vc.get_str(d, "id"), now=_now(d)),
    "reprocess_all": lambda d: ev.ReprocessAll(selection=vc.decode_filter(d.get("selection")), now=_now(d)),
    "purge": lambda d: ev.PurgeDeadLetters(older_than_ms=vc.get_int(d, "older_than_ms"), now=_now(d)),
    "replace_data": lambda d: ev.ReplaceData(
        job_id=vc.get_str(d, "id"),
        expected_json=vc.get_str(d, "expected"),
        data_json=vc.get_str(d, "data"),
        now=_now(d),
    ),
    "malformed": _malformed,
    "log": _append_log,
    "schedule": lambda d: ev.PutSchedule(
        name=vc.get_str(d, "name"), definition=vc.get_opt_str(d, "def"), now=_now(d)
    ),
    "tick": lambda d: ev.Tick(now=_now(d)),
}


def decode_event(value: Any) -> ev.QueueEvent:
    d = vc.obj(value, "event")
    kind = d.get("t")
    decoder = _DECODERS.get(kind) if isinstance(kind, str) else None
    if decoder is None:
        fail(f"unknown event type {kind!r}")
    return decoder(d)


def decode_record(payload: bytes | None) -> DecodedRecord:
    """Decode a whole record; raises ``CodecError`` (never anything else) with the reason."""
    if not payload:
        fail("empty or null record")
    try:
        document = json.loads(payload)
    except Exception:
        fail("record is not UTF-8 JSON")
    if _SURROGATE_ESCAPE.search(payload) and has_lone_surrogate(document):
        fail("record holds an unpaired UTF-16 surrogate")
    try:
        d = vc.obj(document, "record")
        version = d.get("v")
        if version != RECORD_VERSION:
            fail(f"unsupported record version {version!r}")
        appender = vc.get_str(d, "a")
        entries = []
        for item in vc.get_list(d, "b"):
            if (
                not isinstance(item, list)
                or len(item) != 2
                or isinstance(item[0], bool)
                or not isinstance(item[0], int)
            ):
                fail("an entry must be [nonce, event]")
            entries.append((item[0], decode_event(item[1])))
    except CodecError:
        raise
    except Exception as exc:  # any other failure of any type: the record does not decode
        raise CodecError(f"wrong schema: {type(exc).__name__}: {exc}"[:300]) from exc
    return DecodedRecord(appender=appender, entries=tuple(entries))


__all__ = ["RECORD_VERSION", "CodecError", "DecodedRecord", "decode_record", "encode_entry", "encode_events"]
