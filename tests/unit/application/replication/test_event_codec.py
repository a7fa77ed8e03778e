"""Every queue event survives the trip through log record bytes; garbage is refused with a reason."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.queue_backend import JobDraft, LeaseRef
from application.replication.event_codec import decode_record, encode_events
from application.replication.value_codec import CodecError
from application.state_machine import events as ev
from domain.queue.job import DeadLetterFilter, JobProgress, JobState
from domain.queue.metadata import JobMetadata, UserRef
from domain.queue.options import Backoff, BackoffType, KeepJobs, RateLimit, ResolvedOptions
from domain.queue.tenancy import TenantPolicy

OPTIONS = ResolvedOptions(
    delay=250,
    attempts=4,
    priority=2,
    backoff=Backoff(type=BackoffType.FIXED, delay=10, max_delay=None, jitter=0.5),
    timeout=None,
    remove_on_complete=KeepJobs(count=3),
    remove_on_fail=KeepJobs(count=None, age=1000),
    job_id="order-1",
    idempotency_key="idem-1",
    idempotency_ttl=60_000,
)
METADATA = JobMetadata(
    correlation_id="corr",
    tenant_id="t1",
    user=UserRef(sub="u1", tenant="t1", roles=("admin", "ops"), display_name="Ü", email=None),
    source="tests",
    timestamp=123,
    business_context={"nested": {"list": [1, 2.5, None, True]}, "big": 10**30},
)
DRAFT = JobDraft(
    id="order-1",
    name="orders.place.v1",
    data_json='{"x":[1,"é"]}',
    options=OPTIONS,
    metadata=METADATA,
    created_at=5,
)
TRACED_DRAFT = JobDraft(
    id="order-2",
    name="orders.place.v1",
    data_json="{}",
    options=OPTIONS,
    metadata=JobMetadata(correlation_id="corr", headers={"traceparent": "00-ab-cd-01", "tracestate": ""}),
    created_at=5,
)
LEASE = LeaseRef(job_id="order-1", token="w#7")

EVERY_EVENT: list[ev.QueueEvent] = [
    ev.Add(drafts=(DRAFT, DRAFT), now=1),
    ev.Add(drafts=(TRACED_DRAFT,), now=1),
    ev.Claim(worker_id="w", max_jobs=8, lease_ms=30_000, now=2, limiter=RateLimit(max=5, duration=1000)),
    ev.Claim(worker_id="w", max_jobs=1, lease_ms=10, now=2),
    ev.Claim(
        worker_id="w",
        max_jobs=4,
        lease_ms=10,
        now=2,
        tenancy=TenantPolicy(max_active=2, max_starts=5, window_ms=1000, weights=(("acme", 3), ("b", 1))),
    ),
    ev.Extend(worker_id="w", leases=(LEASE, LeaseRef("b", "w#8")), lease_ms=30_000, now=3),
    ev.UpdateProgress(lease=LEASE, progress=42, now=4),
    ev.UpdateProgress(lease=LEASE, progress=42.5, now=4),
    ev.UpdateProgress(
        lease=LEASE,
        progress=JobProgress(percentage=50.0, step="copy", total_steps=4, current_step=2, data={"k": [1]}),
        now=4,
    ),
    ev.Complete(lease=LEASE, return_json='{"ok":true}', now=5),
    ev.Fail(lease=LEASE, reason="boom", stacktrace="Traceback...", retry_delay_ms=1500, now=6),
    ev.Fail(lease=LEASE, reason="boom", stacktrace=None, retry_delay_ms=None, now=6),
    ev.Release(worker_id="w", leases=(LEASE,), now=7),
    ev.HandBack(lease=LEASE, delay_ms=10_000, now=7),
    ev.HandBack(lease=LEASE, delay_ms=0, now=7),
    ev.Remove(job_id="order-1", now=8),
    ev.ReplaceData(job_id="order-1", expected_json='{"a":1}', data_json='{"$encrypted":{"kid":"k2"}}', now=8),
    ev.Pause(now=9),
    ev.Resume(now=10),
    ev.Clean(grace_ms=100, state=JobState.FAILED, limit=50, now=11),
    ev.Reprocess(job_id="order-1", now=12),
    ev.ReprocessAll(selection=None, now=13),
    ev.ReprocessAll(
        selection=DeadLetterFilter(
            name="orders.place.v1",
            reason_contains="boom",
            failed_after=1,
            failed_before=99,
            job_ids=frozenset({"a", "b"}),
        ),
        now=13,
    ),
    ev.PurgeDeadLetters(older_than_ms=1000, now=14),
    ev.RecordMalformed(job_id="malformed-3", raw=b"\x00\xff not json", reason="bad", now=15),
    ev.PutSchedule(name="nightly", definition='{"name":"nightly"}', now=17),
    ev.PutSchedule(name="nightly", definition=None, now=18),
    ev.Tick(now=16),
    ev.AppendLog(lease=LEASE, text="charged the card \u00e9", keep=100, now=17),
    ev.AppendLog(lease=LEASE, text="", keep=0, now=18),
]


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: type(e).__name__)
def test_every_event_round_trips_exactly(event: ev.QueueEvent) -> None:
    decoded = decode_record(encode_events("proc-a", [(7, event)]))

    assert decoded.appender == "proc-a"
    assert decoded.entries == ((7, event),)


def test_a_record_keeps_its_events_in_order() -> None:
    entries = list(enumerate(EVERY_EVENT))

    assert list(decode_record(encode_events("p", entries)).entries) == entries


@given(st.binary(max_size=64))
def test_random_bytes_decode_or_raise_codec_error_and_nothing_else(raw: bytes) -> None:
    with contextlib.suppress(CodecError):
        decode_record(raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"null", "record must be an object"),
        (b"\xff\xfe\x00", "not UTF-8 JSON"),
        (b'{"v":1,"a":"p","b":[[1,{"t":"explode","now":1}]]}', "unknown event type"),
        (b'{"v":1,"a":"p","b":[[1,{"t":"pause","now":"soon"}]]}', "'now' must be an integer"),
        (
            b'{"v":1,"a":"p","b":[[1,{"t":"claim","now":1,"worker":"w","max":1,"lease_ms":5,"limiter":[1,0]}]]}',
            "limiter",
        ),
        (b'{"v":99,"a":"p","b":[]}', "unsupported record version"),
        (
            b'{"v":1,"a":"p","b":[[1,{"t":"hand_back","now":1,"lease":["a","w#1"],"delay_ms":-5}]]}',
            "'delay_ms' must be >= 0",
        ),
        (b'{"v":1,"a":"p","b":[{"t":"tick","now":1}]}', "[nonce, event]"),
    ],
)
def test_undecodable_records_raise_codec_error_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(CodecError) as caught:
        decode_record(raw)

    assert reason in caught.value.reason


def test_metadata_headers_that_are_not_text_are_refused_with_a_reason() -> None:
    document = json.loads(encode_events("p", [(1, ev.Add(drafts=(TRACED_DRAFT,), now=1))]))
    document["b"][0][1]["drafts"][0]["metadata"]["headers"] = {"traceparent": 1}
    with pytest.raises(CodecError) as caught:
        decode_record(json.dumps(document).encode())
    assert "metadata headers must map text to text" in caught.value.reason
