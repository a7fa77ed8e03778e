"""Per-job-type policies (ADR 0022): a ``JobSpec``'s attempts, backoff and timeout sit between the
job's own options and the queue's defaults; a bad one is refused when the module is declared."""

from __future__ import annotations

import pytest

from bootstrap.app import Backbone
from domain.queue.errors import InvalidOptionError
from domain.queue.module import DomainModule, JobSpec, QueueSpec
from domain.queue.options import Backoff, BackoffType, JobOptions, QueueDefaults
from domain.slack.jobs import ALERT_JOB, ALERTS_QUEUE

ALERT = {"alert_type": "high_value_payment", "summary": "a big one"}
TYPE_BACKOFF = Backoff(type=BackoffType.FIXED, delay=3000, max_delay=None, jitter=0.0)
POLICIES = DomainModule(
    "policies",
    queues=[QueueSpec("policies", defaults=QueueDefaults(attempts=4, timeout=20_000))],
    jobs=[
        JobSpec("policy.typed.v1", None, "policies", attempts=2, backoff=TYPE_BACKOFF, timeout=5000),
        JobSpec("policy.plain.v1", None, "policies"),
    ],
)


async def test_a_job_types_policy_sits_between_the_jobs_options_and_the_queues_defaults() -> None:
    async with Backbone.open("memory://", modules=[POLICIES]) as app:
        queue = app.queue("policies")
        typed = await queue.add("policy.typed.v1", {})
        own = await queue.add("policy.typed.v1", {}, JobOptions(timeout=700))
        plain = await queue.add("policy.plain.v1", {})

    assert (typed.options.attempts, typed.options.backoff, typed.options.timeout) == (2, TYPE_BACKOFF, 5000)
    assert (own.options.attempts, own.options.timeout) == (2, 700)
    assert (plain.options.attempts, plain.options.timeout) == (4, 20_000)
    assert plain.options.backoff == QueueDefaults().backoff


async def test_a_settings_override_of_the_queue_does_not_change_a_job_types_own_timeout() -> None:
    queues = {ALERTS_QUEUE: {"timeout_ms": 90_000, "attempts": 7}}
    async with Backbone.open("memory://", queues=queues) as app:
        alert = await app.queue(ALERTS_QUEUE).add(ALERT_JOB, ALERT)

    assert alert.options.timeout == 60_000  # seed 000: a Slack post is an 'api-call', 1 minute
    assert alert.options.attempts == 7  # the job type sets no attempts: the queue's (overridden) value


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"attempts": 0}, "jobs.policy.bad.v1.attempts"),
        ({"timeout": 0}, "jobs.policy.bad.v1.timeout"),
        ({"backoff": Backoff(delay=-1)}, "jobs.policy.bad.v1.backoff.delay"),
    ],
    ids=["attempts", "timeout", "backoff"],
)
def test_a_bad_job_type_policy_is_refused_naming_the_field(policy: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidOptionError) as refused:
        JobSpec("policy.bad.v1", None, "policies", **policy)  # type: ignore[arg-type]
    assert refused.value.field == field
