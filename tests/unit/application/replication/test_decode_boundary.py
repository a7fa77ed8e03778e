"""The decode boundary of the replicated queues (issue 14, ADR 0012).

Anything a record carries that does not decode, for any reason, becomes a dead letter with its
bytes and a reason, the same way in every replica, and the log goes on; what a process applies
for itself is what every other process applies.
"""

from __future__ import annotations

import json

import pytest

from application.queue_backend import JobDraft, LeaseRef
from application.replication.event_codec import encode_events
from application.replication.log_port import LogRecord
from application.replication.replica import Replica, malformed_job_id
from application.replication.snapshot_codec import canonical_state, decode_snapshot, encode_state
from application.replication.value_codec import CodecError
from application.state_machine import events as ev
from application.state_machine.machine import ClaimOutcome, QueueStateMachine
from application.state_machine.records import JobRecord
from application.state_machine.stored_json import MAX_JSON_DEPTH
from domain.queue.job import JobState
from domain.queue.metadata import JobMetadata
from domain.queue.options import JobOptions, QueueDefaults

OPTIONS = JobOptions().resolve(QueueDefaults())
UNDECODABLE_DATA = [
    pytest.param("not json", id="not-json"),
    pytest.param("", id="empty"),
    pytest.param('{"a": 1} trailing', id="trailing-garbage"),
    pytest.param("[" * 5000 + "]" * 5000, id="nested-5000-deep"),
    pytest.param("[" * 977 + "]" * 977, id="nested-977-deep"),
    pytest.param('{"k": ' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1), id="one-over-the-limit"),
    pytest.param('"\\ud800"', id="lone-surrogate-escape"),
]


def _draft(job_id: str, data_json: str) -> JobDraft:
    metadata = JobMetadata(correlation_id=job_id, source="raw-client", timestamp=1)
    return JobDraft(
        id=job_id, name="test.run.v1", data_json=data_json, options=OPTIONS, metadata=metadata, created_at=1
    )


def _record(offset: int, payload: bytes) -> LogRecord:
    return LogRecord(offset=offset, payload=payload, timestamp_ms=1)


def _replicas() -> tuple[Replica, Replica]:
    return tuple(  # type: ignore[return-value]
        Replica(QueueStateMachine(queue="q"), 0, name, max_record_bytes=1 << 20) for name in ("a", "b")
    )


@pytest.mark.parametrize("data_json", UNDECODABLE_DATA)
async def test_an_add_whose_data_does_not_decode_is_the_same_dead_letter_in_every_replica(
    data_json: str,
) -> None:
    log = [
        encode_events(
            "raw-client", [(1, ev.Add(drafts=(_draft("bad", data_json), _draft("good", "{}")), now=10))]
        ),
        encode_events("worker", [(1, ev.Claim(worker_id="w", max_jobs=5, lease_ms=1000, now=11))]),
    ]
    replicas = _replicas()
    for replica in replicas:
        for offset, payload in enumerate(log):
            replica.apply(_record(offset, payload))

    first, second = (replica.machine for replica in replicas)
    assert canonical_state(first) == canonical_state(second)
    [letter] = first.dead_letters(10, 0)
    assert letter.job_id == "bad"
    assert letter.raw_record == data_json.encode("utf-8")
    assert "malformed job 'test.run.v1'" in letter.reason
    assert first.get("good").state is JobState.ACTIVE  # type: ignore[union-attr]
    assert first.get("bad").state is JobState.FAILED  # type: ignore[union-attr]


async def test_data_at_the_depth_limit_decodes_and_runs() -> None:
    deep = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    machine = QueueStateMachine(queue="q")

    [job] = machine.apply(ev.Add(drafts=(_draft("deep", deep),), now=1))

    assert job.state is JobState.WAITING
    outcome: ClaimOutcome = machine.apply(ev.Claim(worker_id="w", max_jobs=1, lease_ms=1000, now=2))
    assert outcome.jobs[0].job.data == json.loads(deep)


async def test_a_completion_whose_return_value_does_not_decode_dead_letters_the_job_and_reads_still_work() -> (
    None
):
    machine = QueueStateMachine(queue="q")
    machine.apply(ev.Add(drafts=(_draft("j", "{}"),), now=1))
    claimed: ClaimOutcome = machine.apply(ev.Claim(worker_id="w", max_jobs=1, lease_ms=1000, now=2))
    lease = LeaseRef("j", claimed.jobs[0].token)

    accepted = machine.apply(ev.Complete(lease=lease, return_json="[" * 5000, now=3))

    job = machine.get("j")
    assert accepted is True
    assert job is not None and job.state is JobState.FAILED
    assert "malformed return value" in (job.failed_reason or "")
    assert [letter.job_id for letter in machine.dead_letters(10, 0)] == ["j"]


def _raw_add(context: str) -> bytes:
    draft = (
        '{"id":"x","name":"test.run.v1","data":"{}","options":'
        + json.dumps(_options_text())
        + ',"metadata":{"correlation_id":null,"tenant_id":null,"user":null,"source":null,'
        + '"timestamp":null,"context":'
        + context
        + '},"created_at":1}'
    )
    return ('{"v":1,"a":"raw","b":[[1,{"t":"add","now":1,"drafts":[' + draft + "]}]]}").encode()


def _options_text() -> str:
    from application.replication.value_codec import options_text

    return options_text(OPTIONS)


@pytest.mark.parametrize(
    ("context", "reason"),
    [
        pytest.param('{"k":' * 600 + "1" + "}" * 600, "nests too deep", id="context-600-deep"),
        pytest.param('{"k":' * 5000 + "1" + "}" * 5000, "not UTF-8 JSON", id="context-5000-deep"),
        pytest.param('{"k":"\\udc00"}', "unpaired UTF-16 surrogate", id="lone-surrogate"),
    ],
)
async def test_a_record_whose_metadata_does_not_decode_is_the_same_malformed_record_everywhere(
    context: str, reason: str
) -> None:
    payload = _raw_add(context)
    replicas = _replicas()
    for replica in replicas:
        replica.apply(_record(0, payload))
        replica.apply(_record(1, encode_events("p", [(1, ev.Add(drafts=(_draft("after", "1"),), now=2))])))

    first, second = (replica.machine for replica in replicas)
    assert canonical_state(first) == canonical_state(second)
    [letter] = first.dead_letters(10, 0)
    assert letter.job_id == malformed_job_id(0)
    assert letter.raw_record == payload
    assert reason in letter.reason
    assert first.get("after").state is JobState.WAITING  # type: ignore[union-attr]


async def test_a_record_with_a_paired_surrogate_escape_decodes() -> None:
    payload = _raw_add('{"emoji":"\\ud83d\\ude00"}')
    replica = _replicas()[0]

    replica.apply(_record(0, payload))

    assert replica.machine.get("x").metadata.business_context == {"emoji": "\U0001f600"}  # type: ignore[union-attr]


def _machine_with(record: JobRecord) -> QueueStateMachine:
    machine = QueueStateMachine(queue="q")
    machine.jobs[record.id] = record
    machine.counts[record.state] += 1
    machine.waiting.append((record.options.priority, 1, record.id))
    return machine


def test_a_snapshot_holding_data_that_does_not_decode_is_refused_so_the_log_is_replayed() -> None:
    bad = JobRecord(
        id="old",
        name="test.run.v1",
        data_json="{not json",
        options=OPTIONS,
        metadata=JobMetadata(),
        created_at=1,
        state=JobState.WAITING,
        seq=1,
    )
    blob = encode_state(_machine_with(bad))

    with pytest.raises(CodecError, match="field 'data' is not JSON"):
        decode_snapshot(blob)


def test_a_state_holding_lone_surrogates_snapshots_and_restores_equal() -> None:
    machine = QueueStateMachine(queue="q")
    machine.apply(ev.RecordMalformed(job_id="m\udc80", raw=b"\xff", reason="bad \ud800 bytes", now=1))

    restored, _ = decode_snapshot(encode_state(machine))

    assert canonical_state(restored) == canonical_state(machine)
    assert restored.dead_letters(1, 0)[0].reason == "bad \ud800 bytes"


async def test_a_job_dead_lettered_for_its_return_value_runs_again_when_reprocessed() -> None:
    machine = QueueStateMachine(queue="q")
    machine.apply(ev.Add(drafts=(_draft("j", '{"n": 1}'),), now=1))
    first: ClaimOutcome = machine.apply(ev.Claim(worker_id="w", max_jobs=1, lease_ms=1000, now=2))
    machine.apply(ev.Complete(lease=LeaseRef("j", first.jobs[0].token), return_json="{bad", now=3))

    assert machine.apply(ev.Reprocess(job_id="j", now=4)) is True
    again: ClaimOutcome = machine.apply(ev.Claim(worker_id="w", max_jobs=1, lease_ms=1000, now=5))
    machine.apply(ev.Complete(lease=LeaseRef("j", again.jobs[0].token), return_json='"ok"', now=6))

    done = machine.get("j")
    assert again.jobs[0].job.data == {"n": 1}
    assert done is not None and (done.state, done.return_value, done.raw_record) == (
        JobState.COMPLETED,
        "ok",
        None,
    )
