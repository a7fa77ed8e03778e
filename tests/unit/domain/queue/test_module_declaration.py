"""A module declaration is checked where it is written: names, ranges, and jobs on its own queues."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from domain.queue.errors import InvalidJobNameError, InvalidOptionError
from domain.queue.module import DomainModule, JobSpec, QueueSpec
from domain.queue.options import Backoff, QueueDefaults, RateLimit


class Export(BaseModel):
    month: str


def test_a_declaration_keeps_its_queues_jobs_and_routes_each_job_to_its_queue() -> None:
    module = DomainModule(
        "reports",
        queues=[QueueSpec("reports-export", 3, QueueDefaults(attempts=7), RateLimit(5, 1000))],
        jobs=[JobSpec("reports.export.v1", Export, queue="reports-export")],
    )
    assert [queue.name for queue in module.queues] == ["reports-export"]
    assert module.queue_of("reports.export.v1") == "reports-export"
    assert module.queue_of("reports.other.v1") is None


def test_a_job_on_a_queue_the_module_does_not_declare_is_refused_naming_the_declared_ones() -> None:
    with pytest.raises(InvalidOptionError) as refused:
        DomainModule(
            "reports",
            queues=[QueueSpec("reports-export")],
            jobs=[JobSpec("reports.export.v1", Export, queue="reports-archive")],
        )
    assert refused.value.field == "module reports.jobs.reports.export.v1.queue"
    assert "'reports-archive'; declared: reports-export" in str(refused.value)


def test_a_job_declared_twice_is_refused() -> None:
    job = JobSpec("reports.export.v1", Export, queue="reports-export")
    with pytest.raises(InvalidOptionError, match=r"must not declare job 'reports.export.v1' twice"):
        DomainModule("reports", queues=[QueueSpec("reports-export")], jobs=[job, job])


def test_a_job_name_without_a_version_is_refused() -> None:
    with pytest.raises(InvalidJobNameError):
        JobSpec("reports.export", Export, queue="reports-export")


def test_a_queue_concurrency_out_of_range_is_refused_naming_the_queue() -> None:
    with pytest.raises(InvalidOptionError) as refused:
        QueueSpec("reports-export", concurrency=0)
    assert refused.value.field == "queues.reports-export.concurrency"


def test_a_queue_backoff_with_a_jitter_above_one_is_refused_naming_the_queue() -> None:
    with pytest.raises(InvalidOptionError) as refused:
        QueueSpec("reports-export", defaults=QueueDefaults(backoff=Backoff(jitter=2.0)))
    assert refused.value.field == "queues.reports-export.backoff.jitter"
