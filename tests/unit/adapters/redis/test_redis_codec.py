"""The job hash codec: what ``add.lua`` stores decodes back to the job the producer added."""

from __future__ import annotations

import json

import pytest

from adapters.redis.codec import MalformedJobHashError, add_argument, decode_job, fields_from_mapping
from adapters.redis.value_codec import decode_progress, encode_progress
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.queue_backend import JobDraft
from domain.queue.job import JobProgress, JobState
from domain.queue.metadata import JobMetadata, UserRef
from domain.queue.options import Backoff, BackoffType, JobOptions, KeepJobs


def _draft(**options: object) -> JobDraft:
    factory = JobFactory("codec-q", JobTypes(strict=False))
    metadata = JobMetadata(
        tenant_id="t1", user=UserRef("u1", roles=("admin",)), business_context={"k": [1, "ü"]}
    )
    return factory.draft(
        "codec.check.v1",
        {"text": "żółw", "big": 2**70, "empty": {}},
        JobOptions(**options),
        metadata,
        1_700_000_000_000,
    )


def _stored_fields(draft: JobDraft, **extra: str) -> dict[str, str]:
    """The hash ``add.lua`` writes for ``draft``, as the scripts hand it back."""
    [[_, _, _, _, _, pairs]] = json.loads(add_argument([draft]))
    fields = dict(zip(pairs[::2], pairs[1::2], strict=True))
    fields.update({"state": "waiting", "seq": "1"}, **extra)
    return fields


def test_a_stored_job_decodes_to_the_job_that_was_added() -> None:
    draft = _draft(
        priority=2,
        attempts=4,
        backoff=Backoff(type=BackoffType.FIXED, delay=10, max_delay=None, jitter=0.0),
        remove_on_complete=KeepJobs(count=5, age=1000),
        remove_on_fail=True,
        idempotency_key="idem-1",
    )
    job = decode_job(draft.id, "codec-q", _stored_fields(draft))
    assert (job.id, job.name, job.state, job.created_at) == (
        draft.id,
        draft.name,
        JobState.WAITING,
        draft.created_at,
    )
    assert job.data == {"text": "żółw", "big": 2**70, "empty": {}}
    assert job.options == draft.options
    assert job.metadata == draft.metadata
    assert (job.attempts_started, job.attempts_made, job.progress, job.stacktrace) == (0, 0, 0, ())


def test_only_the_retention_bounds_that_are_set_are_stored() -> None:
    fields = _stored_fields(_draft(remove_on_complete=KeepJobs(count=3), remove_on_fail=KeepJobs(age=60_000)))
    assert (fields["rc_count"], fields["rf_age"]) == ("3", "60000")
    assert "rc_age" not in fields and "rf_count" not in fields


def test_a_payload_that_is_not_json_any_more_is_malformed_and_keeps_its_bytes() -> None:
    fields = _stored_fields(_draft(), data="{broken")
    with pytest.raises(MalformedJobHashError) as raised:
        decode_job("j1", "codec-q", fields)
    assert raised.value.raw == b"{broken"


def test_payload_bytes_that_are_not_utf8_are_malformed_and_kept_exactly() -> None:
    stored = {key.encode(): value.encode() for key, value in _stored_fields(_draft()).items()}
    stored[b"data"] = b'"\xff\xfe"'
    with pytest.raises(MalformedJobHashError) as raised:
        decode_job("j1", "codec-q", fields_from_mapping(stored))
    assert raised.value.raw == b'"\xff\xfe"'


def test_a_hash_missing_fields_is_malformed() -> None:
    with pytest.raises(MalformedJobHashError, match="does not decode"):
        decode_job("j1", "codec-q", {"name": "codec.check.v1", "state": "waiting"})


@pytest.mark.parametrize(
    "progress",
    [0, 42, 12.5, JobProgress(percentage=50.0, step="copy", total_steps=4, current_step=2, data={"a": 1})],
)
def test_progress_round_trips(progress: float | JobProgress) -> None:
    assert decode_progress(encode_progress(progress)) == progress
