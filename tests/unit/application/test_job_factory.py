"""Validation and encoding at add: the same for every adapter, and nothing is stored on error."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from domain.queue.errors import (
    InvalidOptionError,
    InvalidPayloadError,
    PayloadTooLargeError,
    UnknownJobNameError,
)
from domain.queue.job import NewJob
from domain.queue.metadata import JobMetadata, current_correlation_id
from domain.queue.options import JobOptions, QueueDefaults


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
