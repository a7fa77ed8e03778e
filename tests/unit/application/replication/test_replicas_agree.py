"""What a process applies for itself is what every other process applies (issue 14, requirement 3).

A process applies its own records from the events it encoded them from; every other process
decodes the bytes. Events that would decode differently are refused before anything is appended.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.application.replication.conftest import JOB_NAME, Cluster

from application.queue_backend import ClaimRequest, JobDraft, LeaseRef
from application.replication.event_codec import decode_record, encode_events
from application.replication.snapshot_codec import canonical_state
from application.state_machine import events as ev
from domain.queue.errors import InvalidJobError
from domain.queue.job import JobProgress, JobState
from domain.queue.metadata import JobMetadata, UserRef
from domain.queue.options import JobOptions, QueueDefaults, RateLimit

if TYPE_CHECKING:
    from application.replication.replicated_queue import ReplicatedQueue

OPTIONS = JobOptions().resolve(QueueDefaults())


async def test_an_add_with_a_tenant_id_that_is_not_a_string_is_refused_before_anything_is_appended(
    cluster: Cluster,
) -> None:
    adder, other = await cluster.process(), await cluster.process()
    before = len(cluster.storage.records)

    with pytest.raises(InvalidJobError) as raised:
        await adder.add(JOB_NAME, {}, metadata=JobMetadata(tenant_id=42))  # type: ignore[arg-type]

    assert "tenant_id" in raised.value.field
    assert len(cluster.storage.records) == before
    assert (await adder.get_stats()) == (await other.get_stats())
    assert (await other.get_stats()).waiting == 0


async def test_an_undecodable_record_of_this_process_fails_its_callers_at_once() -> None:
    # Defence in depth: should a record of this process not decode, its caller learns it at once.
    from application.replication.log_port import LogRecord
    from application.replication.replica import Replica
    from application.state_machine.machine import QueueStateMachine

    replica = Replica(QueueStateMachine(queue="q"), 0, "me")
    waiting = replica.expect(3)

    replica.apply(LogRecord(offset=0, payload=b'{"v":1,"a":"me","b":[[3,{"t":"explode"}]]}', timestamp_ms=1))

    with pytest.raises(InvalidJobError, match="did not decode"):
        waiting.result()


async def test_the_queue_keeps_working_and_a_new_process_opens_it_after_undecodable_records(
    cluster: Cluster,
) -> None:
    first = await cluster.process()
    draft = JobDraft("poison", JOB_NAME, "[" * 5000, OPTIONS, JobMetadata(), 1)
    cluster.storage.append([encode_events("raw", [(1, ev.Add(drafts=(draft,), now=1))]), b"\xff"])

    late = await cluster.process()
    job = await late.add(JOB_NAME, {"after": "poison"})
    [claimed] = await first.claim(ClaimRequest("w", 1, 30_000, block_ms=1000))

    assert claimed.job.id == job.id
    letters = await late.list_dead_letters()
    assert sorted(letter.job_id for letter in letters) == ["malformed-1", "poison"]
    assert canonical_state(first.engine.machine) == canonical_state(late.engine.machine)


# --- the property: replicas fed the same log from different appenders agree ----------------------

_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3))
_loose_json = st.recursive(
    _json_leaf | st.tuples(st.integers(0, 2)),  # tuples come back as lists: must be refused
    lambda children: (
        st.lists(children, max_size=2) | st.dictionaries(st.text(max_size=2), children, max_size=2)
    ),
    max_leaves=4,
)
_context = st.one_of(
    st.dictionaries(st.text(max_size=3), _loose_json, max_size=2),
    st.just({1: "int key"}),  # comes back as "1"
)
_metadata = st.builds(
    JobMetadata,
    tenant_id=st.one_of(st.none(), st.text(max_size=3), st.integers(0, 99)),
    user=st.one_of(
        st.none(),
        st.builds(UserRef, sub=st.sampled_from(["u", 7]), roles=st.sampled_from([(), ("a",), ["a"]])),
    ),
    timestamp=st.one_of(st.none(), st.integers(0, 10), st.floats(0, 10)),
    business_context=_context,
)
_raw_data = st.sampled_from(["{}", "not json", "[" * 2000, '"\\ud800"', '{"ok": [1, 2]}'])
_op = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 1), _metadata),
    st.tuples(st.just("raw-add"), _raw_data),
    st.tuples(st.just("claim"), st.integers(0, 1), st.sampled_from([1000, 1000.0, True])),
    st.tuples(st.just("complete"), st.integers(0, 1), st.sampled_from(["null", "{not json", "[" * 900])),
    st.tuples(
        st.just("progress"),
        st.integers(0, 1),
        st.one_of(st.integers(0, 100), st.builds(JobProgress, percentage=st.just(5.0), data=_context)),
    ),
)


async def _run(ops: list[tuple[Any, ...]]) -> None:
    cluster = Cluster()
    try:
        processes = [await cluster.process(), await cluster.process()]
        leases: list[LeaseRef] = []
        for op in ops:
            appended = len(cluster.storage.records)
            try:
                await _apply_op(op, processes, cluster, leases)
            except InvalidJobError:
                assert len(cluster.storage.records) == appended, "a refused event must append nothing"
        fresh = await cluster.process()  # replays the whole log
        for process in processes:
            await process.get_stats()  # waits until it applied the whole log
        states = {canonical_state(handle.engine.machine) for handle in (*processes, fresh)}
        assert len(states) == 1, "replicas fed the same log disagree"
    finally:
        await cluster.close()


async def _apply_op(
    op: tuple[Any, ...], processes: list[ReplicatedQueue], cluster: Cluster, leases: list[LeaseRef]
) -> None:
    kind = op[0]
    if kind == "add":
        await processes[op[1]].add(JOB_NAME, {"n": 1}, metadata=op[2])
    elif kind == "raw-add":
        draft = JobDraft(f"raw-{len(cluster.storage.records)}", JOB_NAME, op[1], OPTIONS, JobMetadata(), 1)
        cluster.storage.append([encode_events("raw-client", [(1, ev.Add(drafts=(draft,), now=1))])])
    elif kind == "claim":
        handle = processes[op[1]]
        event = ev.Claim(worker_id=f"w{op[1]}", max_jobs=1, lease_ms=op[2], now=handle.engine.clock())
        outcome = await handle.engine.submit(event)
        leases.extend(LeaseRef(claimed.job.id, claimed.token) for claimed in outcome.jobs)
    elif kind == "complete" and leases:
        await processes[op[1]].complete(leases.pop(0), op[2])
    elif kind == "progress" and leases:
        await processes[op[1]].update_progress(leases[0], op[2])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_op, min_size=1, max_size=10))
def test_replicas_fed_the_same_log_from_different_appenders_hold_the_same_state(
    ops: list[tuple[Any, ...]],
) -> None:
    asyncio.run(asyncio.wait_for(_run(ops), 20))


# --- the rule behind it: what the encoder accepts decodes back equal ---------------------------------

_lease = st.builds(LeaseRef, job_id=st.sampled_from(["j", 3]), token=st.sampled_from(["w#1", None]))
_int_or_not = st.one_of(st.integers(-2, 5), st.floats(0, 5), st.booleans(), st.just("5"))
_event = st.one_of(
    st.builds(
        ev.Add,
        drafts=st.tuples(
            st.builds(
                JobDraft,
                id=st.sampled_from(["a", 1]),
                name=st.just(JOB_NAME),
                data_json=st.sampled_from(["{}", "[1]"]),
                options=st.just(OPTIONS),
                metadata=_metadata,
                created_at=_int_or_not,
            )
        ),
        now=_int_or_not,
    ),
    st.builds(
        ev.Claim,
        worker_id=st.sampled_from(["w", 1]),
        max_jobs=_int_or_not,
        lease_ms=_int_or_not,
        now=st.just(1),
        limiter=st.one_of(st.none(), st.builds(RateLimit, max=_int_or_not, duration=st.just(10))),
    ),
    st.builds(ev.Complete, lease=_lease, return_json=st.sampled_from(["1", 1, None]), now=_int_or_not),
    st.builds(
        ev.UpdateProgress,
        lease=_lease,
        progress=st.one_of(_int_or_not, st.builds(JobProgress, percentage=_int_or_not, data=_context)),
        now=st.just(1),
    ),
    st.builds(
        ev.Fail,
        lease=_lease,
        reason=st.sampled_from(["boom", 1]),
        stacktrace=st.sampled_from([None, "tb", b"tb"]),
        retry_delay_ms=st.one_of(st.none(), _int_or_not),
        now=st.just(1),
    ),
    st.builds(
        ev.Clean,
        grace_ms=_int_or_not,
        state=st.sampled_from([JobState.FAILED, "failed"]),
        limit=st.just(1),
        now=st.just(1),
    ),
    st.builds(ev.Remove, job_id=st.sampled_from(["a", 1, None]), now=st.just(1)),
)


@settings(max_examples=300, deadline=None)
@given(_event)
def test_every_event_the_encoder_accepts_decodes_back_equal_and_the_rest_is_refused(
    event: ev.QueueEvent,
) -> None:
    try:
        payload = encode_events("me", [(1, event)])
    except InvalidJobError:
        return
    [(_, decoded)] = decode_record(payload).entries
    assert decoded == event
    assert repr(decoded) == repr(event)  # same types too (a list is not a tuple, "1" is not 1)
