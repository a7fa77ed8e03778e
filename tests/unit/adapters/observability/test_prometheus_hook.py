"""The Prometheus hook counts what a real worker on memory:// did, with bounded labels (no job id)."""

from __future__ import annotations

from pydantic import BaseModel

from adapters.observability.prometheus import MAX_JOB_NAMES, OTHER_JOB_NAME, PrometheusHook
from backbone import (
    Backbone,
    DomainModule,
    JobContext,
    JobOptions,
    JobSpec,
    PermanentError,
    QueueSpec,
    RetryableError,
)
from domain.queue.job import QueueStats
from domain.queue.options import Backoff, BackoffType

NAME = "ping.send.v1"


class Ping(BaseModel):
    outcome: str  # "ok", "permanent" (dead letter at once), "flaky" (fails its first attempt)


async def ping(job: Ping, ctx: JobContext) -> str:
    if job.outcome == "permanent":
        raise PermanentError("refused for good")
    if job.outcome == "flaky" and ctx.attempt == 1:
        raise RetryableError("try again")
    return job.outcome


UNHANDLED = "ping.elsewhere.v1"  # routed to the queue, but no handler for it in this worker

PINGS = DomainModule(
    "pings",
    queues=[QueueSpec("pings")],
    jobs=[JobSpec(NAME, Ping, queue="pings"), JobSpec(UNHANDLED, Ping, queue="pings")],
    handlers=lambda ctx: {NAME: ping},
)


def value(hook: PrometheusHook, metric: str, **labels: str) -> float:
    found = hook.registry.get_sample_value(metric, labels)
    return 0.0 if found is None else found


async def _run(hook: PrometheusHook, outcomes: list[str], unhandled: int = 0) -> None:
    options = JobOptions(attempts=3, backoff=Backoff(BackoffType.FIXED, delay=0))
    hand_back_once = {"unknown_job_delay_ms": 0, "unknown_job_max_hand_backs": 1}
    async with Backbone.open("memory://", modules=[PINGS], hooks=[hook], worker=hand_back_once) as app:
        queue = app.queue("pings")
        for outcome in outcomes:
            await queue.add(NAME, Ping(outcome=outcome), options)
        for _ in range(unhandled):
            await queue.add(UNHANDLED, Ping(outcome="ok"), options)
        async with app.workers():
            await app.wait_until_idle(timeout_s=10)


async def test_completed_failed_retried_and_dead_lettered_jobs_are_counted_per_queue_and_job_name() -> None:
    hook = PrometheusHook()
    await _run(hook, ["ok", "ok", "flaky", "permanent"])
    labels = {"queue": "pings", "job_name": NAME}
    assert value(hook, "backbone_jobs_added_total", **labels) == 4
    assert value(hook, "backbone_jobs_started_total", **labels) == 5  # the flaky one twice
    assert value(hook, "backbone_jobs_completed_total", **labels) == 3
    assert value(hook, "backbone_jobs_retried_total", **labels) == 1
    assert value(hook, "backbone_jobs_dead_lettered_total", **labels) == 1
    assert value(hook, "backbone_jobs_failed_total", **labels, category="retryable") == 1
    assert value(hook, "backbone_jobs_failed_total", **labels, category="permanent") == 1


async def test_a_job_without_a_handler_is_counted_handed_back_then_dead_lettered_at_the_limit() -> None:
    hook = PrometheusHook()
    await _run(hook, [], unhandled=1)
    labels = {"queue": "pings", "job_name": UNHANDLED}
    assert value(hook, "backbone_jobs_handed_back_total", **labels) == 1
    assert value(hook, "backbone_jobs_dead_lettered_total", **labels) == 1
    assert value(hook, "backbone_jobs_failed_total", **labels, category="permanent") == 1
    assert value(hook, "backbone_jobs_started_total", **labels) == 0
    assert value(hook, "backbone_job_processing_seconds_count", **labels) == 0  # it never ran


async def test_processing_time_is_observed_per_finished_attempt_and_wait_time_per_first_attempt() -> None:
    hook = PrometheusHook()
    await _run(hook, ["ok", "flaky", "permanent"])
    labels = {"queue": "pings", "job_name": NAME}
    assert value(hook, "backbone_job_processing_seconds_count", **labels) == 4
    assert value(hook, "backbone_job_wait_seconds_count", **labels) == 3
    assert value(hook, "backbone_job_wait_seconds_sum", **labels) >= 0


async def test_no_series_carries_a_job_id() -> None:
    hook = PrometheusHook()
    await _run(hook, ["ok", "permanent"])
    label_names = {
        name for metric in hook.registry.collect() for sample in metric.samples for name in sample.labels
    }
    assert label_names <= {
        "queue",
        "job_name",
        "category",
        "state",
        "worker_id",
        "concurrency",
        "version",
        "le",
    }


def test_job_names_beyond_the_bound_are_folded_into_one_label_value() -> None:
    hook = PrometheusHook()
    kept = [hook.job_name("pings", f"name.{i}.v1") for i in range(MAX_JOB_NAMES + 5)]
    assert kept[:MAX_JOB_NAMES] == [f"name.{i}.v1" for i in range(MAX_JOB_NAMES)]
    assert set(kept[MAX_JOB_NAMES:]) == {OTHER_JOB_NAME}
    assert hook.job_name("pings", "name.0.v1") == "name.0.v1"  # a known name stays itself


def test_queue_stats_set_one_gauge_per_state_and_the_paused_flag() -> None:
    hook = PrometheusHook()
    hook.queue_stats("pings", QueueStats(waiting=3, delayed=2, active=1, completed=7, failed=4, paused=True))
    states = {
        s: value(hook, "backbone_queue_jobs", queue="pings", state=s)
        for s in ("waiting", "delayed", "active", "completed", "failed")
    }
    assert states == {"waiting": 3, "delayed": 2, "active": 1, "completed": 7, "failed": 4}
    assert value(hook, "backbone_queue_paused", queue="pings") == 1


def test_the_worker_info_and_up_metrics_follow_the_workers_of_the_process() -> None:
    hook = PrometheusHook()
    hook.worker_started("pings", "host-1-abc", 4, "0.1.0")
    assert (
        value(
            hook,
            "backbone_worker_info",
            queue="pings",
            worker_id="host-1-abc",
            concurrency="4",
            version="0.1.0",
        )
        == 1
    )
    assert value(hook, "backbone_worker_up") == 1
    hook.workers_stopped()
    assert value(hook, "backbone_worker_up") == 0
