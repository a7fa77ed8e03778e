"""Validation and encoding at add: the same for every adapter, and nothing is stored on error."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from domain.queue.errors import (
    InvalidJobNameError,
    InvalidMetadataError,
    InvalidOptionError,
    InvalidPayloadError,
    PayloadTooLargeError,
    UnknownJobNameError,
)
from domain.queue.job import NewJob
from domain.queue.metadata import JobMetadata, UserRef, current_correlation_id
from domain.queue.options import Backoff, JobOptions, QueueDefaults


class Refund(BaseModel):
    tx_id: str
    amount_minor: int


def factory(**kwargs: object) -> JobFactory:
    types = JobTypes()
    types.register("transaction.refund.v1", Refund)
    types.register("plain.job.v1")
    return JobFactory("q", types, QueueDefaults(attempts=4), **kwargs)  # type: ignore[arg-type]


def test_model_payload_is_validated_and_stored_as_canonical_json() -> None:
    draft = factory().draft("transaction.refund.v1", Refund(tx_id="t", amount_minor=5), None, None, 10)
    assert draft.data_json == '{"tx_id":"t","amount_minor":5}'


def test_queue_defaults_fill_in_unset_options() -> None:
    draft = factory().draft("plain.job.v1", {}, JobOptions(priority=2), None, 10)
    assert (draft.options.attempts, draft.options.priority) == (4, 2)


def test_unknown_name_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(UnknownJobNameError) as raised:
        factory().draft("other.job.v1", {}, None, None, 0)
    assert "plain.job.v1" in str(raised.value)


def test_payload_failing_its_model_names_the_bad_field() -> None:
    with pytest.raises(InvalidPayloadError) as raised:
        factory().draft("transaction.refund.v1", {"tx_id": "t", "amount_minor": "lots"}, None, None, 0)
    assert "amount_minor" in str(raised.value)


def test_payload_limit_counts_encoded_utf8_bytes() -> None:
    with pytest.raises(PayloadTooLargeError):
        factory(max_payload_bytes=10).draft("plain.job.v1", "ééééééé", None, None, 0)


def test_bulk_error_names_the_entry_index() -> None:
    entries = [NewJob("plain.job.v1", {}), NewJob("plain.job.v1", {}, JobOptions(attempts=0))]
    with pytest.raises(InvalidOptionError) as raised:
        factory().drafts(entries, 0)
    assert raised.value.field == "jobs[1].options.attempts"


def test_metadata_defaults_to_a_correlation_id_the_time_and_the_source() -> None:
    draft = factory(source="billing").draft("plain.job.v1", {}, None, JobMetadata(tenant_id="t1"), 99)
    assert draft.metadata.correlation_id == draft.id
    assert (draft.metadata.timestamp, draft.metadata.source, draft.metadata.tenant_id) == (
        99,
        "billing",
        "t1",
    )


def test_correlation_id_of_the_running_job_is_inherited() -> None:
    async def inside_a_handler() -> str | None:
        current_correlation_id.set("corr-parent")
        return factory().draft("plain.job.v1", {}, None, None, 0).metadata.correlation_id

    assert asyncio.run(inside_a_handler()) == "corr-parent"


# --- everything stored is checked at add (issue 14) -------------------------------------------------


def nested(depth: int) -> object:
    """A list ``depth`` containers deep (``[]`` is 1)."""
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_data_nested_as_deep_as_the_limit_is_accepted_and_one_level_more_is_not() -> None:
    limited = factory(max_json_depth=10)
    draft = limited.draft("plain.job.v1", {"a": nested(9)}, None, None, 0)
    assert draft.data_json.count("[") == 9
    with pytest.raises(InvalidPayloadError):
        limited.draft("plain.job.v1", {"a": nested(10)}, None, None, 0)


@pytest.mark.parametrize("depth", [65, 977, 5000, 100_000])
def test_data_nested_deeper_than_the_default_limit_is_refused_naming_data(depth: int) -> None:
    with pytest.raises(InvalidPayloadError) as raised:
        factory().draft("plain.job.v1", nested(depth), None, None, 0)
    assert raised.value.field == "data"
    assert "64" in raised.value.rule


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    draft = factory(max_json_depth=3).draft("plain.job.v1", {"text": "[[[[{{{{"}, None, None, 0)
    assert draft.data_json == '{"text":"[[[[{{{{"}'


@pytest.mark.parametrize(
    ("data", "rule_part"),
    [
        ({"text": "bad \ud800 half"}, "lone surrogates"),
        ({"bad \udcff key": 1}, "lone surrogates"),
        ({"inf": float("inf")}, "NaN/Infinity"),
        ({"neg": float("-inf")}, "NaN/Infinity"),
        ({"set": {1, 2}}, "JSON-encodable"),
        ({"bytes": b"x"}, "JSON-encodable"),
        ({"huge": 10**5000}, "JSON-encodable"),  # past Python's int-to-text digit limit
    ],
)
def test_data_that_cannot_be_stored_as_json_text_is_refused_naming_data(data: object, rule_part: str) -> None:
    with pytest.raises(InvalidPayloadError) as raised:
        factory().draft("plain.job.v1", data, None, None, 0)
    assert raised.value.field == "data"
    assert rule_part in raised.value.rule


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        (JobMetadata(tenant_id=42), "metadata.tenant_id"),  # type: ignore[arg-type]
        (JobMetadata(correlation_id=b"c"), "metadata.correlation_id"),  # type: ignore[arg-type]
        (JobMetadata(correlation_id="x\ud800"), "metadata.correlation_id"),
        (JobMetadata(source=["s"]), "metadata.source"),  # type: ignore[arg-type]
        (JobMetadata(timestamp="now"), "metadata.timestamp"),  # type: ignore[arg-type]
        (JobMetadata(timestamp=-1), "metadata.timestamp"),
        (JobMetadata(timestamp=True), "metadata.timestamp"),
        (JobMetadata(user="bob"), "metadata.user"),  # type: ignore[arg-type]
        (JobMetadata(user=UserRef(sub=7)), "metadata.user.sub"),  # type: ignore[arg-type]
        (JobMetadata(user=UserRef(sub="u", roles="admin")), "metadata.user.roles"),  # type: ignore[arg-type]
        (JobMetadata(user=UserRef(sub="u", roles=("a", 1))), "metadata.user.roles[1]"),  # type: ignore[arg-type]
        (JobMetadata(user=UserRef(sub="u", email="\udc80")), "metadata.user.email"),
        (JobMetadata(business_context=[1]), "metadata.business_context"),  # type: ignore[arg-type]
        (JobMetadata(business_context={1: "a"}), "metadata.business_context"),  # type: ignore[dict-item]
        (JobMetadata(business_context={"o": object()}), "metadata.business_context"),
        (JobMetadata(business_context={"n": float("nan")}), "metadata.business_context"),
        (JobMetadata(business_context={"s": "\ud800"}), "metadata.business_context"),
        (JobMetadata(business_context={"d": nested(100)}), "metadata.business_context"),
        (JobMetadata(tenant_id="t" * 1001), "metadata.tenant_id"),
    ],
)
def test_metadata_of_the_wrong_type_or_unstorable_is_refused_naming_the_field(
    metadata: JobMetadata, field: str
) -> None:
    with pytest.raises(InvalidMetadataError) as raised:
        factory().draft("plain.job.v1", {}, None, metadata, 0)
    assert raised.value.field == field


def test_user_roles_given_as_a_list_are_stored_as_a_tuple() -> None:
    user = UserRef(sub="u", roles=["a", "b"])  # type: ignore[arg-type]
    draft = factory().draft("plain.job.v1", {}, None, JobMetadata(user=user), 0)
    assert draft.metadata.user == UserRef(sub="u", roles=("a", "b"))


def test_an_inherited_correlation_id_that_is_not_valid_unicode_is_refused() -> None:
    async def inside_a_handler() -> None:
        current_correlation_id.set("from-\udcff-storage")
        with pytest.raises(InvalidMetadataError) as raised:
            factory().draft("plain.job.v1", {}, None, None, 0)
        assert raised.value.field == "metadata.correlation_id"

    asyncio.run(inside_a_handler())


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (JobOptions(backoff={"delay": 5}), "options.backoff"),  # type: ignore[arg-type]
        (JobOptions(backoff=Backoff(type=["x"])), "options.backoff.type"),  # type: ignore[arg-type]
        (JobOptions(backoff=Backoff(jitter=float("nan"))), "options.backoff.jitter"),
        (JobOptions(job_id="id-\ud800"), "options.job_id"),
        (JobOptions(idempotency_key="k-\udcff"), "options.idempotency_key"),
        (JobOptions(delay=1.5), "options.delay"),  # type: ignore[arg-type]
        (JobOptions(timeout="soon"), "options.timeout"),  # type: ignore[arg-type]
    ],
)
def test_options_of_the_wrong_type_are_refused_naming_the_field(options: JobOptions, field: str) -> None:
    with pytest.raises(InvalidOptionError) as raised:
        factory().draft("plain.job.v1", {}, options, None, 0)
    assert raised.value.field == field


@pytest.mark.parametrize("name", ["plain.job.v1\n", ["plain.job.v1"], None])
def test_a_job_name_that_is_not_wholly_well_formed_is_refused_even_when_types_are_not_strict(
    name: object,
) -> None:
    with pytest.raises(InvalidJobNameError) as raised:
        JobFactory("q", JobTypes(strict=False)).draft(name, {}, None, None, 0)  # type: ignore[arg-type]
    assert raised.value.field == "name"


@pytest.mark.parametrize("queue", ["storm-q\n", "Storm_Q", "storm q", "", "-" * 101])
def test_a_factory_for_a_queue_name_that_is_not_kebab_case_cannot_be_made(queue: str) -> None:
    with pytest.raises(InvalidOptionError) as raised:
        JobFactory(queue, JobTypes())
    assert raised.value.field == "queue"
