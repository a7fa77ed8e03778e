"""Contract behaviour 26: poison records (issue 14). Jobs stored by a raw client, in the broker's own
well-formed record, whose data does not decode: not JSON, nested far too deep, an unpaired
surrogate, bytes that are not UTF-8, the wrong shape for the job's model; mixed with good jobs,
large ones among them.

One rule holds on every broker: each bad job ends as a dead letter with a reason and its bytes,
every good job completes, no worker dies, a fresh process opens the queue and lists the dead
letters. ``BrokerUnderTest.write_raw_job`` writes the records with the broker's own client.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from application.jobs.job_factory import JobFactory
from application.replication.event_codec import encode_events
from application.state_machine import events as ev
from application.state_machine.stored_json import MAX_JSON_DEPTH, has_lone_surrogate, text_depth_exceeds
from backbone.testing.contract.helpers import (
    ECHO,
    MODEL,
    contract_job_types,
    eventually,
    fast_defaults,
    now_ms,
    recording_handler,
    running_worker,
    wait_for_state,
)
from backbone.testing.contract.support import BrokerUnderTest
from domain.queue.job import DeadLetter, JobState
from domain.queue.options import JobOptions

POISON_DATA = [
    pytest.param(b"{not json", id="not-json"),
    pytest.param(b"[" * 5000 + b"]" * 5000, id="nested-5000-deep"),
    pytest.param(b"[" * 977 + b"]" * 977, id="nested-977-deep"),
    pytest.param(b'{"k": "\\ud800"}', id="unpaired-surrogate"),
    pytest.param(b'"\xff\xfe not utf-8"', id="not-utf-8"),
]


def decodes(data: bytes) -> bool:
    """The contract's decode rule for stored data: UTF-8 JSON (no NaN), at most MAX_JSON_DEPTH deep,
    no unpaired surrogate."""
    try:
        text = data.decode("utf-8")
        if text_depth_exceeds(text):
            return False
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return False
    return not has_lone_surrogate(value)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def log_add_record(queue: str, job_id: str, name: str, data: bytes) -> bytes:
    """For the log adapters: an ``add`` record, as the adapter writes it, whose draft's JSON text is
    ``data`` (spliced in as a JSON string when it is UTF-8, as raw bytes when it is not)."""
    factory = JobFactory(queue, contract_job_types(), fast_defaults())
    now = now_ms()
    draft = dataclasses.replace(factory.draft(ECHO, None, JobOptions(job_id=job_id), None, now), name=name)
    appender = f"raw-client-{uuid.uuid4().hex[:8]}"  # one per record: replicas skip a repeated nonce
    record = encode_events(appender, [(1, ev.Add(drafts=(draft,), now=now))])
    try:
        quoted = json.dumps(data.decode("utf-8"), ensure_ascii=False).encode("utf-8")
    except UnicodeDecodeError:
        quoted = b'"' + data + b'"'
    placeholder = b'"data":"null"'
    assert record.count(placeholder) == 1
    return record.replace(placeholder, b'"data":' + quoted)


def memory_job_record(job_id: str, name: str, data: bytes) -> bytes:
    """For the memory broker: its ``{"data", "name", "id"}`` record with ``data`` spliced in first
    (later keys win, so spliced bytes cannot change the name or id)."""
    return (
        b'{"data":'
        + data
        + b',"name":'
        + json.dumps(name).encode()
        + b',"id":'
        + json.dumps(job_id).encode()
        + b"}"
    )


@dataclass(frozen=True)
class RawJob:
    name: str
    data: bytes

    @property
    def bad(self) -> bool:
        if self.name == MODEL:  # the model needs {"payment_id": str, "amount_minor": int}
            return True
        return not decodes(self.data)


def _dead_letter_of(letters: list[DeadLetter], job_id: str, raw: RawJob) -> DeadLetter | None:
    for letter in letters:
        if letter.job_id == job_id or (letter.raw_record is not None and raw.data in letter.raw_record):
            return letter
    return None


# Random inner values: mutations of a JSON document over an alphabet without quotes or letters (so
# spliced bytes cannot make a key of the envelope), named poison, large good values, wrong shapes.
_mutated = st.lists(st.sampled_from(list("[]{}1 ,:")), max_size=12).map(lambda chars: "".join(chars).encode())
_depth = st.integers(MAX_JSON_DEPTH + 1, 6000).map(lambda d: b"[" * d + b"]" * d)
_named = st.sampled_from([param.values[0] for param in POISON_DATA])
_large_good = st.integers(1, 300_000).map(lambda n: json.dumps({"blob": "x" * n}).encode())
_good_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
).map(lambda value: json.dumps(value, ensure_ascii=False).encode())
_raw_job = st.one_of(
    st.builds(RawJob, name=st.just(ECHO), data=st.one_of(_mutated, _depth, _named, _large_good, _good_json)),
    st.builds(RawJob, name=st.just(MODEL), data=st.just(b'{"payment_id": 7}')),
)


class PoisonBehaviours:
    @pytest.mark.parametrize("data", POISON_DATA)
    async def test_a_stored_job_whose_data_does_not_decode_is_dead_lettered_and_the_queue_goes_on(
        self, broker: BrokerUnderTest, queue: Any, queue_name: str, data: bytes
    ) -> None:
        calls: list[tuple[str, Any]] = []
        await broker.write_raw_job(queue_name, "poison-1", ECHO, data)
        async with running_worker(queue, {ECHO: recording_handler(calls)}):
            letters = await eventually(queue.list_dead_letters, timeout_s=30, message="a dead letter")
            good = await queue.add(ECHO, {"after": "poison"})
            await wait_for_state(queue, good.id, JobState.COMPLETED, timeout_s=30)
        [letter] = letters
        letter_id = letter.job_id
        assert letter.reason
        assert _dead_letter_of(letters, "poison-1", RawJob(ECHO, data)) is letter
        assert [job_id for job_id, _ in calls] == [good.id]
        fresh = await broker.open_queue(queue_name, contract_job_types(), fast_defaults())
        try:
            assert [kept.job_id for kept in await fresh.list_dead_letters()] == [letter_id]
            done = await fresh.get_job(good.id)
            assert done is not None and done.state is JobState.COMPLETED
        finally:
            await fresh.close()

    @settings(
        max_examples=3,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),  # no shrinking against a real broker: it would take minutes
        # One queue (a fixture) serves every example; each broker's class runs the same method.
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
    @given(raw_jobs=st.lists(_raw_job, min_size=1, max_size=6))
    async def test_poison_records_mixed_with_good_jobs_end_as_dead_letters_while_good_jobs_complete(
        self, broker: BrokerUnderTest, queue: Any, queue_name: str, raw_jobs: list[RawJob]
    ) -> None:
        calls: list[tuple[str, Any]] = []
        bad_before = len(await queue.list_dead_letters(limit=1000))
        written = {f"raw-{uuid.uuid4().hex[:10]}": raw for raw in raw_jobs}
        good_ids = [(await queue.add(ECHO, {"before": len(written)})).id]
        await queue.pause()  # nothing starts while a raw client is still writing
        for job_id, raw in written.items():
            await broker.write_raw_job(queue_name, job_id, raw.name, raw.data)
        await queue.resume()
        handlers = {ECHO: recording_handler(calls), MODEL: recording_handler(calls)}
        bad = {job_id: raw for job_id, raw in written.items() if raw.bad}
        async with running_worker(queue, handlers, concurrency=2):
            good_ids.append((await queue.add(ECHO, {"after": len(written)})).id)

            async def settled() -> list[DeadLetter] | None:
                letters: list[DeadLetter] = await queue.list_dead_letters(limit=1000)
                return letters if len(letters) >= bad_before + len(bad) else None

            letters = await eventually(settled, timeout_s=60, message=f"{len(bad)} dead letters")
            for job_id in good_ids:
                await wait_for_state(queue, job_id, JobState.COMPLETED, timeout_s=60)
        assert len(letters) == bad_before + len(bad)
        for job_id, raw in bad.items():
            letter = _dead_letter_of(letters, job_id, raw)
            assert letter is not None, f"no dead letter for {raw!r}"
            assert letter.reason
        good_raw = {job_id for job_id, raw in written.items() if not raw.bad}
        assert {job_id for job_id, _ in calls} == set(good_ids) | good_raw
        fresh = await broker.open_queue(queue_name, contract_job_types(), fast_defaults())
        try:
            assert len(await fresh.list_dead_letters(limit=1000)) == len(letters)
            assert (await fresh.get_stats()).waiting == 0
        finally:
            await fresh.close()
