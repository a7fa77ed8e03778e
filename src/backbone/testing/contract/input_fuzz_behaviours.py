"""Contract behaviour 3, hardened (issue 14): whatever reaches ``add``, the caller gets a clean
``InvalidJobError`` naming a field and nothing is stored, or the job is stored and completes.

The regressions name the inputs that once got through or broke something; the fuzz test throws
random and mutated inputs at ``add`` on every broker with a worker running, so a payload that
``add`` accepts but a worker cannot decode shows up as a job that never completes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.jobs.job_types import JobTypes
from application.jobs.payload_codec import DEFAULT_MAX_JSON_DEPTH
from backbone.testing.contract.helpers import (
    ECHO,
    MODEL,
    fast_defaults,
    recording_handler,
    running_worker,
    wait_for_state,
)
from backbone.testing.contract.support import BrokerUnderTest
from domain.queue.errors import InvalidJobError, InvalidOptionError
from domain.queue.job import JobState
from domain.queue.metadata import JobMetadata, UserRef
from domain.queue.options import Backoff, JobOptions


def nested(depth: int) -> Any:
    """A list ``depth`` containers deep (``[]`` is 1)."""
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


REFUSED_INPUTS = [
    pytest.param(ECHO, {"s": "half \ud800 pair"}, None, None, "data", id="lone-surrogate-in-data"),
    pytest.param(ECHO, {"\udcff": 1}, None, None, "data", id="lone-surrogate-in-a-data-key"),
    pytest.param(
        ECHO, {}, JobOptions(job_id="id-\ud800"), None, "options.job_id", id="lone-surrogate-job-id"
    ),
    pytest.param(
        ECHO,
        {},
        None,
        JobMetadata(correlation_id="c-\ud800"),
        "metadata.correlation_id",
        id="surrogate-corr-id",
    ),
    pytest.param(ECHO, nested(DEFAULT_MAX_JSON_DEPTH + 1), None, None, "data", id="one-level-too-deep"),
    pytest.param(ECHO, nested(977), None, None, "data", id="nested-977"),
    pytest.param(ECHO, nested(980), None, None, "data", id="nested-980"),
    pytest.param(ECHO, nested(5000), None, None, "data", id="nested-5000"),
    pytest.param(ECHO, {"inf": float("inf")}, None, None, "data", id="infinity-in-data"),
    pytest.param(ECHO, {}, JobOptions(backoff={"delay": 5}), None, "options.backoff", id="backoff-as-dict"),  # type: ignore[arg-type]
    pytest.param(ECHO, {}, JobOptions(timeout="soon"), None, "options.timeout", id="timeout-as-text"),  # type: ignore[arg-type]
    pytest.param(ECHO, {}, None, JobMetadata(user="bob"), "metadata.user", id="user-as-text"),  # type: ignore[arg-type]
    pytest.param(ECHO, {}, None, JobMetadata(tenant_id=42), "metadata.tenant_id", id="tenant-id-as-int"),  # type: ignore[arg-type]
    pytest.param(ECHO, {}, None, JobMetadata(timestamp="now"), "metadata.timestamp", id="timestamp-as-text"),  # type: ignore[arg-type]
    pytest.param(
        ECHO,
        {},
        None,
        JobMetadata(business_context={"o": object()}),
        "metadata.business_context",
        id="ctx-object",
    ),
    pytest.param(
        ECHO,
        {},
        None,
        JobMetadata(business_context={"n": float("nan")}),
        "metadata.business_context",
        id="ctx-nan",
    ),
    pytest.param(
        ECHO,
        {},
        None,
        JobMetadata(business_context={"d": nested(100)}),
        "metadata.business_context",
        id="ctx-deep",
    ),
    pytest.param(f"{ECHO}\n", {}, None, None, "name", id="name-with-trailing-newline"),
]


class InputFuzzBehaviours:
    # 3b. everything stored is checked at add ---------------------------------------------------------

    @pytest.mark.parametrize(("name", "data", "options", "metadata", "field"), REFUSED_INPUTS)
    async def test_input_that_cannot_be_stored_everywhere_is_refused_naming_the_field(
        self, queue: Any, name: str, data: Any, options: Any, metadata: Any, field: str
    ) -> None:
        with pytest.raises(InvalidJobError) as raised:
            await queue.add(name, data, options, metadata)
        assert raised.value.field == field
        assert field in str(raised.value)
        assert (await queue.get_stats()).total == 0

    async def test_data_nested_as_deep_as_the_limit_is_stored_and_completes(self, queue: Any) -> None:
        data = {"deep": nested(DEFAULT_MAX_JSON_DEPTH - 1)}
        job = await queue.add(ECHO, data, metadata=JobMetadata(business_context={"d": nested(10)}))
        seen: list[tuple[str, Any]] = []
        async with running_worker(queue, {ECHO: recording_handler(seen)}):
            await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert seen == [(job.id, data)]

    async def test_a_well_formed_name_with_a_trailing_newline_is_refused_when_job_types_are_not_strict(
        self, broker: BrokerUnderTest, queue_name: str
    ) -> None:
        queue = await broker.open_queue(queue_name, JobTypes(strict=False), fast_defaults())
        try:
            with pytest.raises(InvalidJobError) as raised:
                await queue.add("storm.job.v1\n", {})
            assert raised.value.field == "name"
            assert (await queue.get_stats()).total == 0
        finally:
            await queue.close()

    @pytest.mark.parametrize("name", ["storm-q\n", "Storm_Q", "storm q", "", "-" * 101])
    async def test_a_queue_name_that_is_not_wholly_kebab_case_is_refused_at_open(
        self, broker: BrokerUnderTest, name: str
    ) -> None:
        with pytest.raises(InvalidOptionError) as raised:
            await broker.open_queue(name, JobTypes(), fast_defaults())
        assert raised.value.field == "queue"

    @pytest.mark.parametrize(
        ("options", "metadata"),
        [
            pytest.param(None, JobMetadata(business_context={"o": object()}), id="unserialisable-context"),
            pytest.param(JobOptions(job_id="bad-\ud800"), None, id="lone-surrogate-job-id"),
        ],
    )
    async def test_one_bad_add_among_concurrent_adds_fails_only_its_own_caller(
        self, queue: Any, options: Any, metadata: Any
    ) -> None:
        good = [queue.add(ECHO, {"i": i}) for i in range(20)]
        bad = queue.add(ECHO, {"bad": True}, options, metadata)
        outcomes = await asyncio.gather(*good[:10], bad, *good[10:], return_exceptions=True)
        refused = outcomes.pop(10)
        assert isinstance(refused, InvalidJobError)
        assert all(not isinstance(outcome, BaseException) for outcome in outcomes), outcomes
        assert sorted(job.data["i"] for job in outcomes if not isinstance(job, BaseException)) == list(range(20))
        assert (await queue.get_stats()).total == 20

    # 3c. fuzz: random and mutated input --------------------------------------------------------------

    async def test_random_and_mutated_input_is_refused_cleanly_or_stored_and_completed(
        self, queue: Any
    ) -> None:
        loop = asyncio.get_running_loop()
        seen: list[tuple[str, Any]] = []
        handlers = {ECHO: recording_handler(seen), MODEL: recording_handler(seen)}
        async with running_worker(queue, handlers):
            check = _add_checker(queue)
            await asyncio.to_thread(
                _fuzz, lambda args: asyncio.run_coroutine_threadsafe(check(*args), loop).result(60)
            )


def _add_checker(queue: Any) -> Callable[[str, Any, Any, Any], Coroutine[Any, Any, None]]:
    async def check(name: str, data: Any, options: Any, metadata: Any) -> None:
        before = (await queue.get_stats()).total
        refused: InvalidJobError | None = None
        try:
            job = await queue.add(name, data, options, metadata)
        except InvalidJobError as exc:
            refused = exc
        if refused is None:
            await wait_for_state(queue, job.id, JobState.COMPLETED, timeout_s=15)
            return
        assert refused.field and refused.field in str(refused), repr(refused)
        assert (await queue.get_stats()).total == before, f"refused add stored something: {refused}"

    return check


# --- strategies: each field is mostly plausible, sometimes hostile --------------------------------


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` four times out of five: most examples then carry one or two hostile values."""
    return st.sampled_from([True, True, True, True, False]).flatmap(
        lambda plausible: good if plausible else bad
    )


_bad_text = st.sampled_from(["\ud800", "tail \udcff", "new\nline", "", " ", "x" * 1001])
_text = _mostly(st.text(max_size=12), _bad_text)
_plain_id = st.text(alphabet="abcdef0123456789-", min_size=1, max_size=12)
_number = _mostly(
    st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False)),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
)
_scalar = st.one_of(st.none(), st.booleans(), _number, _text)
_json_like = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3)),
    max_leaves=12,
)
_odd = st.sampled_from(
    [
        object(),
        b"bytes",
        {1, 2},
        (1, 2),
        {1: "int key"},
        nested(DEFAULT_MAX_JSON_DEPTH),
        nested(80),
        nested(2000),
    ]
)
_data = _mostly(
    st.one_of(
        _json_like,
        st.builds(
            lambda amount, note: {"payment_id": "p", "amount_minor": amount, "note": note}, _number, _text
        ),
    ),
    _odd,
)
_name = _mostly(
    st.sampled_from([ECHO, ECHO, MODEL]),
    st.one_of(
        st.sampled_from([f"{ECHO}\n", ECHO.upper(), "contract.echo", "contract.unknown.v1", 7, None]),
        st.text(),
    ),
)
_int_option = _mostly(st.none(), st.sampled_from([-3, 0, 11, "soon", 1.5, True]))
_options = st.one_of(
    st.none(),
    st.builds(
        lambda priority, delay, attempts, timeout, job_id, backoff: JobOptions(
            priority=priority, delay=delay, attempts=attempts, timeout=timeout, job_id=job_id, backoff=backoff
        ),
        _mostly(st.integers(1, 10), st.sampled_from([0, 11, "1", None])),
        _mostly(st.just(0), st.sampled_from([-1, "1", 1.5])),
        _mostly(st.one_of(st.none(), st.integers(1, 3)), st.sampled_from([0, "3", True])),
        _mostly(st.sampled_from([None, 30_000]), st.sampled_from([0, "soon", float("nan")])),
        _mostly(st.one_of(st.none(), _plain_id), _text),
        _mostly(
            st.sampled_from([None, Backoff(delay=10, jitter=0.0)]),
            st.sampled_from([Backoff(jitter=float("nan")), Backoff(type="never"), {"d": 1}]),  # type: ignore[arg-type]
        ),
    ),
)
_optional_text = _mostly(
    st.one_of(st.none(), st.text(max_size=12)), st.one_of(_bad_text, st.sampled_from([42, b"b"]))
)
_user = _mostly(
    st.one_of(st.none(), st.builds(UserRef, st.text(max_size=8), roles=st.tuples(st.text(max_size=8)))),
    st.one_of(
        st.sampled_from(["bob", 7, UserRef("u", roles="admin"), UserRef("u", roles=(1,))]),  # type: ignore[arg-type]
        st.builds(UserRef, _text, _optional_text, st.tuples(_text)),
    ),
)
_metadata = st.one_of(
    st.none(),
    st.builds(
        JobMetadata,
        correlation_id=_optional_text,
        tenant_id=_optional_text,
        user=_user,
        source=_optional_text,
        timestamp=_mostly(
            st.one_of(st.none(), st.integers(0, 2**50)), st.sampled_from([-1, "now", True, 2**60])
        ),
        business_context=_mostly(st.dictionaries(st.text(max_size=8), _json_like, max_size=3), _odd),
    ),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(name=_name, data=_data, options=_options, metadata=_metadata)
def _fuzz_one(
    run: Callable[[tuple[Any, Any, Any, Any]], None], name: Any, data: Any, options: Any, metadata: Any
) -> None:
    run((name, data, options, metadata))


def _fuzz(run: Callable[[tuple[Any, Any, Any, Any]], None]) -> None:
    """Hypothesis drives from this thread; each example's add runs on the test's event loop."""
    _fuzz_one(run)
