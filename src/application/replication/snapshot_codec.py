"""The whole ``QueueStateMachine`` state <-> bytes (zlib-compressed canonical JSON).

Canonical: the heaps are rebuilt from the live records (stale heap entries are dropped and the
rest sorted), so two replicas with the same observable state encode to the same bytes, and a
restored replica makes exactly the decisions the original would have made.
"""

from __future__ import annotations

import heapq
import json
import zlib
from typing import Any

from application.replication import value_codec as vc
from application.replication.value_codec import CodecError, Obj, fail
from application.state_machine.machine import LimiterWindow, QueueStateMachine
from application.state_machine.records import JobRecord
from application.state_machine.tenancy import PARKED_ACTIVE, PARKED_WINDOW, TenantIndex, bucket_of
from domain.queue.job import JobState
from domain.queue.options import ResolvedOptions

SNAPSHOT_VERSION = 1


def _encode_record(r: JobRecord) -> Obj:
    encoded = {
        "id": r.id,
        "name": r.name,
        "data": r.data_json,
        "options": vc.encode_options(r.options),
        "metadata": vc.encode_metadata(r.metadata),
        "created_at": r.created_at,
        "state": str(r.state),
        "seq": r.seq,
        "due_at": r.due_at,
        "progress": vc.encode_progress(r.progress),
        "ret": r.return_json,
        "failed_reason": r.failed_reason,
        "stack": r.stacktrace,
        "started": r.attempts_started,
        "made": r.attempts_made,
        "stalled": r.stalled_count,
        "processed_on": r.processed_on,
        "finished_on": r.finished_on,
        "lease_owner": r.lease_owner,
        "lease_token": r.lease_token,
        "lease_number": r.lease_number,
        "lease_until": r.lease_until,
        "raw": None if r.raw_record is None else vc.encode_bytes(r.raw_record),
    }
    if r.hand_backs:  # written only when set: snapshots of queues that never handed back are unchanged
        encoded["hand_backs"] = r.hand_backs
    if r.logs:  # likewise: written only when a handler logged (ADR 0026)
        encoded["logs"] = [[at, text] for at, text in r.logs]
    return encoded


def _decode_record(value: Any, options_seen: dict[str, ResolvedOptions]) -> JobRecord:
    d = vc.obj(value, "job")
    stack = vc.get_list(d, "stack")
    if not all(isinstance(line, str) for line in stack):
        fail("stacktrace entries must be strings")
    data_json = vc.get_opt_json_text(d, "data")
    return JobRecord(
        id=vc.get_str(d, "id"),
        name=vc.get_str(d, "name"),
        data_json=data_json,
        options=_decode_options(d.get("options"), options_seen),
        metadata=vc.decode_metadata(d.get("metadata")),
        created_at=vc.get_int(d, "created_at"),
        state=vc.get_state(d, "state"),
        seq=vc.get_int(d, "seq"),
        due_at=vc.get_opt_int(d, "due_at"),
        progress=vc.decode_progress(d.get("progress")),
        return_json=vc.get_opt_json_text(d, "ret"),
        failed_reason=vc.get_opt_str(d, "failed_reason"),
        stacktrace=list(stack),
        attempts_started=vc.get_int(d, "started"),
        attempts_made=vc.get_int(d, "made"),
        stalled_count=vc.get_int(d, "stalled"),
        processed_on=vc.get_opt_int(d, "processed_on"),
        finished_on=vc.get_opt_int(d, "finished_on"),
        lease_owner=vc.get_opt_str(d, "lease_owner"),
        lease_token=vc.get_opt_str(d, "lease_token"),
        lease_number=vc.get_int(d, "lease_number"),
        lease_until=vc.get_opt_int(d, "lease_until"),
        raw_record=vc.get_opt_bytes(d, "raw"),
        hand_backs=_hand_backs(d),
        logs=_logs(d),
    )


def _logs(d: Obj) -> list[tuple[int, str]]:
    """Absent in snapshots of jobs that never logged (and in those written before ADR 0026)."""
    lines = []
    for entry in d.get("logs", []):
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or isinstance(entry[0], bool)
            or not isinstance(entry[0], int)
            or not isinstance(entry[1], str)
        ):
            fail("logs entries must be [at, text]")
        lines.append((entry[0], entry[1]))
    return lines


def _decode_options(value: Any, seen: dict[str, ResolvedOptions]) -> ResolvedOptions:
    """Most jobs of a queue share their options: each distinct encoding is decoded (and checked)
    once per snapshot. ``repr`` keeps types apart (``1``, ``1.0`` and ``True`` differ), so a
    value the decoder refuses never matches one it accepted; ``ResolvedOptions`` is immutable."""
    key = repr(value)
    options = seen.get(key)
    if options is None:
        options = seen[key] = vc.decode_options(value)
    return options


def _hand_backs(d: Obj) -> int:
    """Absent in snapshots written before hand-backs existed (ADR 0017): 0 then."""
    count = vc.get_opt_int(d, "hand_backs")
    if count is None:
        return 0
    if count < 0:
        fail("field 'hand_backs' must be >= 0")
    return count


AppenderMarks = dict[str, tuple[int, int]]  # appender id -> (last nonce applied, offset of its record)


def encode_state(m: QueueStateMachine, marks: AppenderMarks | None = None) -> bytes:
    """The state, plus the replica's per-appender marks (which duplicates it skips) when given."""
    live_keys = sorted([expires_at, key] for key, (_, expires_at) in m.idempotency.items())
    document = {
        "v": SNAPSHOT_VERSION,
        "queue": m.queue,
        "now": m.now,
        "paused": m.paused,
        "seq": m.seq,
        "lease_seq": m.lease_seq,
        "jobs": [_encode_record(r) for r in m.jobs.values()],
        "completed": list(m.completed),
        "failed": list(m.failed),
        "idempotency": [[key, job_id, expires_at] for key, (job_id, expires_at) in m.idempotency.items()],
        "idempotency_expiry": live_keys,
        "limiter": [m.limiter.window, m.limiter.started],
    }
    if m.schedules:  # written only when set: snapshots of queues without run-time schedules are unchanged
        document["schedules"] = sorted([name, text] for name, text in m.schedules.items())
    if m.tenancy is not None:
        document["tenancy"] = _encode_tenancy(m.tenancy)
    if marks:
        document["appenders"] = sorted(
            [appender, nonce, offset] for appender, (nonce, offset) in marks.items()
        )
    try:
        encoded = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate somewhere: escaped, it round-trips exactly
        encoded = json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return zlib.compress(encoded, 6)


def decode_state(blob: bytes) -> QueueStateMachine:
    """Rebuild a state machine; raises ``CodecError`` if the bytes are not a snapshot."""
    return decode_snapshot(blob)[0]


def decode_snapshot(blob: bytes) -> tuple[QueueStateMachine, AppenderMarks]:
    """The state machine and the appender marks (empty in snapshots written before they existed)."""
    try:
        document = json.loads(zlib.decompress(blob))
        return _decode_document(document), _decode_marks(document)
    except CodecError:
        raise
    except Exception as exc:  # any failure, of any type, means the same: not a usable snapshot
        raise CodecError(f"not a snapshot: {type(exc).__name__}: {exc}"[:300]) from exc


def _decode_marks(document: Obj) -> AppenderMarks:
    marks: AppenderMarks = {}
    for entry in document.get("appenders", []):
        if (
            not isinstance(entry, list)
            or len(entry) != 3
            or not isinstance(entry[0], str)
            or not all(isinstance(value, int) for value in entry[1:])
        ):
            fail("appenders entries must be [appender, nonce, offset]")
        marks[entry[0]] = (entry[1], entry[2])
    return marks


def _decode_document(document: Any) -> QueueStateMachine:
    d = vc.obj(document, "snapshot")
    if d.get("v") != SNAPSHOT_VERSION:
        fail(f"unsupported snapshot version {d.get('v')!r}")
    m = QueueStateMachine(queue=vc.get_str(d, "queue"))
    m.now = vc.get_int(d, "now")
    m.paused = vc.get_bool(d, "paused")
    m.seq = vc.get_int(d, "seq")
    m.lease_seq = vc.get_int(d, "lease_seq")
    options_seen: dict[str, ResolvedOptions] = {}
    for item in vc.get_list(d, "jobs"):
        record = _decode_record(item, options_seen)
        m.jobs[record.id] = record
        m.counts[record.state] += 1
        if record.state is JobState.WAITING and "tenancy" in d:
            pass  # into its tenant's bucket below
        elif record.state is JobState.WAITING:
            m.waiting.append((record.options.priority, record.seq, record.id))
        elif record.state is JobState.DELAYED and record.due_at is not None:
            m.delayed.append((record.due_at, record.seq, record.id))
        elif record.state is JobState.ACTIVE and record.lease_until is not None:
            m.leases.append((record.lease_until, record.lease_number, record.id))
    for heap in (m.waiting, m.delayed, m.leases):
        heap.sort()
    m.completed = dict.fromkeys(_ids(d, "completed", m))
    m.failed = dict.fromkeys(_ids(d, "failed", m))
    for entry in vc.get_list(d, "idempotency"):
        if not isinstance(entry, list) or len(entry) != 3:
            fail("idempotency entries must be [key, job_id, expires_at]")
        key, job_id, expires_at = entry
        if not isinstance(key, str) or not isinstance(job_id, str) or not isinstance(expires_at, int):
            fail("idempotency entries must be [key, job_id, expires_at]")
        m.idempotency[key] = (job_id, expires_at)
    m.idempotency_expiry = [(expires_at, key) for key, (_, expires_at) in m.idempotency.items()]
    heapq.heapify(m.idempotency_expiry)
    window, started = vc.get_list(d, "limiter")
    m.limiter = LimiterWindow(window=int(window), started=int(started))
    m.schedules = _schedules(d)
    if "tenancy" in d:
        m.tenancy = _decode_tenancy(d["tenancy"], m)
    return m


def _encode_tenancy(index: TenantIndex) -> Obj:
    """The tenant buckets' counters and ring places; their waiting heaps are rebuilt from the jobs."""
    buckets = [
        [
            name,
            b.active,
            b.window,
            b.started,
            b.served,
            None if b.ring_key is None else list(b.ring_key),
            b.parked,
            b.parked_until,
        ]
        for name, b in index.buckets.items()
    ]
    return {"turn": index.turn, "buckets": buckets}


def _decode_tenancy(value: Any, m: QueueStateMachine) -> TenantIndex:
    d = vc.obj(value, "tenancy")
    index = TenantIndex(turn=vc.get_int(d, "turn"))
    for entry in vc.get_list(d, "buckets"):
        if not isinstance(entry, list) or len(entry) != 8 or not isinstance(entry[0], str):
            fail("tenancy buckets must be [name, active, window, started, served, ring key, parked, until]")
        name, active, window, started, served, ring_key, parked, until = entry
        if not all(isinstance(n, int) for n in (active, window, started, served)):
            fail("tenancy bucket counters must be integers")
        if parked not in (None, PARKED_ACTIVE, PARKED_WINDOW):
            fail("tenancy bucket parked must be null, 'active' or 'window'")
        if (parked == PARKED_WINDOW) != (isinstance(until, int) and not isinstance(until, bool)):
            fail("tenancy bucket until must be the window end exactly when parked by its window")
        bucket = index.bucket(name)
        bucket.active, bucket.window, bucket.started, bucket.served, bucket.parked = (
            active,
            window,
            started,
            served,
            parked,
        )
        if isinstance(until, int):
            bucket.parked_until = until
            index.parked_until.append((until, name))
        if ring_key is not None:
            if (
                not isinstance(ring_key, list)
                or len(ring_key) != 2
                or not all(isinstance(n, int) for n in ring_key)
            ):
                fail("tenancy ring key must be [priority, turn]")
            bucket.ring_key = (ring_key[0], ring_key[1])
            index.ring.append((ring_key[0], ring_key[1], name))
    for record in m.jobs.values():
        if record.state is JobState.WAITING:
            index.bucket(bucket_of(record)).waiting.append((record.options.priority, record.seq, record.id))
    for bucket in index.buckets.values():
        bucket.waiting.sort()
    index.ring.sort()
    index.parked_until.sort()
    return index



def _schedules(d: Obj) -> dict[str, str]:
    """Absent in snapshots written before run-time schedules existed (ADR 0022): none then."""
    schedules: dict[str, str] = {}
    for entry in d.get("schedules", []):
        if not isinstance(entry, list) or len(entry) != 2 or not all(isinstance(v, str) for v in entry):
            fail("schedules entries must be [name, definition]")
        schedules[entry[0]] = entry[1]
    return schedules


def _ids(d: Obj, key: str, m: QueueStateMachine) -> list[str]:
    ids = vc.get_list(d, key)
    if not all(isinstance(job_id, str) and job_id in m.jobs for job_id in ids):
        fail(f"{key} must list known job ids")
    return ids


def canonical_state(m: QueueStateMachine) -> bytes:
    """Uncompressed canonical form (for equality checks in tests and diagnostics)."""
    return zlib.decompress(encode_state(m))
