"""Job naming rule and the seeds' idempotency key."""

from __future__ import annotations

import pytest

from domain.queue.errors import InvalidJobNameError, InvalidOptionError
from domain.queue.idempotency import idempotency_key
from domain.queue.naming import dead_letter_queue_name, validate_job_name, validate_queue_name


@pytest.mark.parametrize(
    "name",
    [
        "transaction.settlement.v1",
        "notification.email.send.v2",
        "slack.alert.critical.v1",
        "file.process.image.v3",
    ],
)
def test_semantic_versioned_names_are_accepted(name: str) -> None:
    assert validate_job_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "process-data",
        "handle-event",
        "notification",
        "a.b",
        "A.b.v1",
        "a.b.v0",
        "",
        "storm.job.v1\n",
        "\na.b.v1",
    ],
)
def test_generic_or_unversioned_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidJobNameError) as raised:
        validate_job_name(name)
    assert raised.value.field == "name"


@pytest.mark.parametrize("name", ["storm-q\n", "Storm_Q", "storm q", "", "-" * 101, "q" * 101, 7, None])
def test_queue_names_that_are_not_wholly_kebab_case_are_refused(name: object) -> None:
    with pytest.raises(InvalidOptionError) as raised:
        validate_queue_name(name)
    assert raised.value.field == "queue"


def test_idempotency_key_has_the_seed_format() -> None:
    key = idempotency_key("org-1", "transaction.settlement.v1", {"b": 1, "a": 2}, now_ms=1_000_123)
    tenant, job_type, digest, window = key.split(":")
    assert (tenant, job_type, len(digest), window) == ("org-1", "transaction.settlement.v1", 16, "900000")


def test_idempotency_key_ignores_key_order_and_changes_with_content() -> None:
    one = idempotency_key("t", "x.y.v1", {"a": 1, "b": [1, 2]}, now_ms=0)
    assert one == idempotency_key("t", "x.y.v1", {"b": [1, 2], "a": 1}, now_ms=0)
    assert one != idempotency_key("t", "x.y.v1", {"a": 2, "b": [1, 2]}, now_ms=0)


def test_idempotency_key_changes_with_the_five_minute_window() -> None:
    early = idempotency_key("t", "x.y.v1", {}, now_ms=299_999)
    assert early != idempotency_key("t", "x.y.v1", {}, now_ms=300_000)


def test_dead_letter_queue_name_follows_the_seed() -> None:
    assert dead_letter_queue_name("ingress-events") == "ingress-events-dlq"
