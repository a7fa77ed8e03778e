"""``backbone schedules add/list/remove`` against a real Redis: a run-time schedule stored by one
command is listed by the next, run by a ``backbone worker`` started afterwards, seen by the admin
hook, and removed; a module-declared schedule cannot be removed from the command line (ADR 0022)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dependency_injector import providers
from tests.harness.handle import BrokerHandle

from application.hooks import Hook, ScheduleChange
from bootstrap.cli import main
from bootstrap.container import Container
from domain.queue.context import JobContext
from domain.queue.module import DomainModule, JobSpec, QueueSpec
from domain.queue.schedule import Schedule

JOB = "cli.runtime.tick.v1"
QUEUE = "cli-runtime"
RAN: list[Any] = []


async def record_tick(data: Any, ctx: JobContext) -> None:
    RAN.append((ctx.job.id, data))


MODULE = DomainModule(
    "cli-runtime",
    queues=[QueueSpec(QUEUE)],
    jobs=[JobSpec(JOB, None, queue=QUEUE)],
    handlers=lambda ctx: {JOB: record_tick},
    schedules=[Schedule(name="declared-nightly", job=JOB, cron="0 2 * * *")],
)
ENTRY = f"{__name__}:MODULE"


class ChangeRecorder(Hook):
    def __init__(self) -> None:
        self.changes: list[ScheduleChange] = []

    def on_schedule_changed(self, change: ScheduleChange) -> None:
        self.changes.append(change)


def backbone(broker: BrokerHandle, *args: str, **kwargs: Any) -> int:
    return main(["--broker", broker.url, "--module", ENTRY, "schedules", *args], **kwargs)


def test_a_schedule_added_from_the_cli_is_listed_run_by_a_worker_and_removed(
    redis_broker: BrokerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    RAN.clear()
    assert (
        backbone(redis_broker, "add", "cli-often", "--job", JOB, "--every-ms", "1000", "--data", '{"n": 3}')
        == 0
    )
    assert "stored schedule cli-often on queue cli-runtime" in capsys.readouterr().out

    assert backbone(redis_broker, "list", "--json") == 0
    listed = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert (listed["cli-often"]["from"], listed["cli-often"]["timetable"]) == ("run-time", "every 1000 ms")
    assert listed["declared-nightly"]["from"] == "cli-runtime"

    code = main(["--broker", redis_broker.url, "--module", ENTRY, "worker", "--run-for-ms", "2500"])
    assert code == 0
    assert RAN and all(job_id.startswith("schedule:cli-often:") and data == {"n": 3} for job_id, data in RAN)

    assert backbone(redis_broker, "remove", "cli-often") == 0
    assert "removed schedule cli-often from queue cli-runtime" in capsys.readouterr().out
    assert backbone(redis_broker, "list", "--json") == 0
    assert [row["name"] for row in json.loads(capsys.readouterr().out)] == ["declared-nightly"]


def test_removing_an_unknown_schedule_exits_1(
    redis_broker: BrokerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert backbone(redis_broker, "remove", "never-added") == 1
    assert "no run-time schedule never-added" in capsys.readouterr().out


def test_a_declared_schedule_cannot_be_removed_from_the_cli(
    redis_broker: BrokerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert backbone(redis_broker, "remove", "declared-nightly") == 2
    assert "declared by module cli-runtime" in capsys.readouterr().err


def test_a_bad_cron_expression_from_the_cli_is_refused_naming_the_field(
    redis_broker: BrokerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    assert backbone(redis_broker, "add", "cli-bad", "--job", JOB, "--cron", "0 25 * * *") == 2
    assert "schedules.cli-bad.cron" in capsys.readouterr().err
    assert backbone(redis_broker, "list", "--json") == 0
    assert "cli-bad" not in capsys.readouterr().out


def test_schedule_changes_from_the_cli_are_seen_by_the_admin_hook(redis_broker: BrokerHandle) -> None:
    recorder = ChangeRecorder()

    def with_recorder(container: Container) -> None:
        container.given_hooks.override(providers.Object((recorder,)))

    assert backbone(redis_broker, "add", "cli-audited", "--job", JOB, "--cron", "*/5 * * * *") == 0
    assert backbone(redis_broker, "remove", "cli-audited", container_hook=with_recorder) == 0
    assert [(c.queue, c.action, c.name, c.removed) for c in recorder.changes] == [
        (QUEUE, "remove", "cli-audited", True)
    ]
