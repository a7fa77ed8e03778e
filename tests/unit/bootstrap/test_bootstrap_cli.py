"""The ``backbone`` CLI run in-process on ``memory://``; one shared ``MemoryBroker`` per test stands in
for a broker that outlives each command."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from adapters.memory import MemoryBroker
from adapters.outbound.notification_senders import InMemoryNotificationSender
from adapters.outbound.slack_clients import InMemorySlackClient
from bootstrap.cli import main
from bootstrap.container import Container

SETTLEMENT = ["transaction-processing", "transaction.settlement.v1"]
SETTLE_DATA = '{"tx_id": "tx-1", "amount_minor": 500, "currency": "EUR"}'
REFUND_DATA = '{"tx_id": "tx-9", "amount_minor": 500, "currency": "EUR", "reason": "customer asked"}'

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
def run(broker: MemoryBroker, capsys: pytest.CaptureFixture[str]) -> Run:
    def hook(container: Container) -> None:
        broker.reopen()  # the previous command closed it on exit, as a process would disconnect
        container.broker.override(providers.Object(broker))
        container.notification_sender.override(providers.Singleton(InMemoryNotificationSender))
        container.slack_client.override(providers.Singleton(InMemorySlackClient))

    def invoke(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv), container_hook=hook)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def _json(text: str) -> Any:
    return json.loads(text)


def _stats_of(text: str, queue: str) -> dict[str, Any]:
    """The row of ``queue`` in the output of ``stats --json`` (a list of one object per queue)."""
    rows = {row["queue"]: row for row in json.loads(text)}
    return rows[queue]  # type: ignore[no-any-return]


def test_enqueue_prints_the_stored_job_as_json(run: Run) -> None:
    code, out, _ = run(
        "enqueue",
        *SETTLEMENT,
        "--data",
        SETTLE_DATA,
        "--priority",
        "2",
        "--job-id",
        "j-1",
        "--correlation-id",
        "c-1",
    )
    assert code == 0
    job = _json(out)
    assert (job["id"], job["queue"], job["state"], job["priority"]) == (
        "j-1",
        "transaction-processing",
        "waiting",
        2,
    )
    assert job["metadata"]["correlation_id"] == "c-1"
    assert job["options"]["attempts"] == 5


def test_a_delayed_enqueue_is_stored_as_delayed(run: Run) -> None:
    code, out, _ = run("enqueue", *SETTLEMENT, "--data", SETTLE_DATA, "--delay", "60000")
    assert code == 0
    assert _json(out)["state"] == "delayed"


def test_stats_counts_what_was_enqueued(run: Run) -> None:
    run("enqueue", *SETTLEMENT, "--data", SETTLE_DATA)
    code, out, _ = run("stats", "transaction-processing", "--json")
    assert code == 0
    assert [(row["queue"], row["waiting"]) for row in _json(out)] == [("transaction-processing", 1)]


def test_stats_without_queues_lists_every_queue_of_the_enabled_modules_as_a_table(run: Run) -> None:
    code, out, _ = run("stats")
    assert code == 0
    assert out.splitlines()[0].split() == [
        "queue",
        "waiting",
        "delayed",
        "active",
        "completed",
        "failed",
        "paused",
    ]
    assert [line.split()[0] for line in out.splitlines()[2:]] == [
        "batch-message-sending",
        "message-cleanup",
        "notification-email",
        "notification-push",
        "notification-sms",
        "slack-alerts",
        "slack-messages",
        "transaction-processing",
    ]


def test_job_shows_one_job_and_a_missing_one_exits_1(run: Run) -> None:
    run("enqueue", *SETTLEMENT, "--data", SETTLE_DATA, "--job-id", "j-2")
    code, out, _ = run("job", "transaction-processing", "j-2")
    assert code == 0 and _json(out)["id"] == "j-2"
    code, out, err = run("job", "transaction-processing", "nope")
    assert code == 1
    assert out == ""
    assert err == "backbone: error: job nope not found on queue transaction-processing\n"


def test_invalid_json_data_exits_2_naming_the_flag(run: Run) -> None:
    code, _, err = run("enqueue", *SETTLEMENT, "--data", "{not json")
    assert code == 2
    assert "--data: must be valid JSON" in err


def test_a_payload_that_breaks_the_model_exits_2_and_stores_nothing(run: Run) -> None:
    code, _, err = run(
        "enqueue", *SETTLEMENT, "--data", '{"tx_id": "tx-1", "amount_minor": -5, "currency": "EUR"}'
    )
    assert code == 2
    assert "data: must match model SettleTransaction" in err
    _, out, _ = run("stats", "transaction-processing", "--json")
    assert _json(out)[0]["waiting"] == 0


def test_an_unknown_job_name_exits_2(run: Run) -> None:
    code, _, err = run("enqueue", "transaction-processing", "transaction.unknown.v1", "--data", "{}")
    assert code == 2
    assert "name: must be a registered job name" in err


def test_an_out_of_range_priority_exits_2_naming_the_option(run: Run) -> None:
    code, _, err = run("enqueue", *SETTLEMENT, "--data", SETTLE_DATA, "--priority", "11")
    assert code == 2
    assert "options.priority" in err


def test_a_command_line_error_exits_2(run: Run) -> None:
    code, _, err = run("enqueue", "transaction-processing")
    assert code == 2
    assert "backbone" in err


def test_pause_and_resume_toggle_the_paused_flag(run: Run) -> None:
    assert run("pause", "notification-email")[1].strip() == "notification-email paused"
    _, out, _ = run("stats", "notification-email", "--json")
    assert _json(out)[0]["paused"] is True
    assert run("resume", "notification-email")[1].strip() == "notification-email running"


def test_worker_runs_enqueued_jobs_until_it_is_stopped(run: Run) -> None:
    run("enqueue", *SETTLEMENT, "--data", SETTLE_DATA, "--job-id", "j-3")
    code, out, _ = run("worker", "transaction-processing", "--run-for-ms", "300")
    assert code == 0
    assert "stopped queue=transaction-processing succeeded=1" in out
    _, out, _ = run("job", "transaction-processing", "j-3")
    assert _json(out)["state"] == "completed"


def test_a_permanently_failing_job_is_listed_reprocessed_and_purged_as_a_dead_letter(run: Run) -> None:
    run(
        "enqueue", "transaction-processing", "transaction.refund.v1", "--data", REFUND_DATA, "--job-id", "r-1"
    )
    run("worker", "transaction-processing", "--run-for-ms", "300")
    code, out, _ = run("dlq", "list", "transaction-processing", "--json")
    assert code == 0
    letters = _json(out)
    assert [letter["job_id"] for letter in letters] == ["r-1"]
    assert "not settled" in letters[0]["reason"]
    assert run("dlq", "reprocess", "transaction-processing", "r-1")[0] == 0
    _, out, _ = run("job", "transaction-processing", "r-1")
    assert _json(out)["state"] == "waiting"
    run("worker", "transaction-processing", "--run-for-ms", "300")
    code, out, _ = run(
        "dlq", "reprocess", "transaction-processing", "--all", "--name", "transaction.refund.v1"
    )
    assert out.strip() == "reprocessed 1 dead letters of transaction-processing"
    run("worker", "transaction-processing", "--run-for-ms", "300")
    code, out, _ = run("dlq", "purge", "transaction-processing", "--older-than-ms", "0")
    assert out.strip() == "purged 1 dead letters of transaction-processing"


def test_clean_removes_finished_jobs(run: Run) -> None:
    run("enqueue", *SETTLEMENT, "--data", SETTLE_DATA)
    run("worker", "transaction-processing", "--run-for-ms", "300")
    code, out, _ = run("clean", "transaction-processing", "--state", "completed", "--grace-ms", "0")
    assert code == 0
    assert out.strip() == "removed 1 completed jobs from transaction-processing"


def test_health_reports_every_queue_up_with_its_failure_rate(run: Run) -> None:
    code, out, _ = run("health", "transaction-processing", "slack-alerts", "--json")
    assert code == 0
    report = _json(out)
    assert [entry["status"] for entry in report] == ["up", "up"]
    assert report[0]["failure_rate"] is None


def test_health_exits_1_when_the_broker_is_down(capsys: pytest.CaptureFixture[str]) -> None:
    closed = MemoryBroker()
    asyncio.run(closed.close())
    code = main(
        ["health", "slack-alerts"], container_hook=lambda c: c.broker.override(providers.Object(closed))
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "down" in out and "memory:// unavailable" in out


def test_an_unavailable_broker_exits_3_naming_the_redacted_url(capsys: pytest.CaptureFixture[str]) -> None:
    closed = MemoryBroker()
    asyncio.run(closed.close())
    code = main(
        ["enqueue", *SETTLEMENT, "--data", SETTLE_DATA],
        container_hook=lambda c: c.broker.override(providers.Object(closed)),
    )
    assert code == 3
    assert "broker memory:// unavailable" in capsys.readouterr().err


def test_an_unknown_broker_scheme_exits_2_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["stats", "--broker", "nats://app:hunter2@nats:4222"])
    err = capsys.readouterr().err
    assert code == 2
    assert "broker.url" in err
    assert "hunter2" not in err


def test_bad_settings_from_the_environment_exit_2_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BACKBONE_WORKER__LEASE_MS", "1")
    assert main(["stats"]) == 2
    assert "worker.lease_ms" in capsys.readouterr().err


def test_a_config_file_given_by_flag_adds_its_queues_to_the_topology(run: Run, tmp_path: Path) -> None:
    config = tmp_path / "backbone.toml"
    config.write_text("[queues.reports-export]\nconcurrency = 2\n")
    code, out, _ = run("stats", "--config", str(config), "--json")
    assert code == 0
    assert _stats_of(out, "reports-export")["waiting"] == 0


def test_json_log_format_writes_one_json_object_per_line(run: Run) -> None:
    code, _, err = run(
        "worker", "slack-alerts", "--run-for-ms", "10", "--log-format", "json", "--log-level", "INFO"
    )
    assert code == 0
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert records
    assert all({"level", "logger", "message", "correlation_id", "job_id"} <= set(r) for r in records)


def test_a_worker_on_a_queue_no_enabled_module_handles_exits_2_naming_it_and_the_known_queues(
    run: Run,
) -> None:
    run("enqueue", *SETTLEMENT, "--data", SETTLE_DATA, "--job-id", "j-9")
    code, out, err = run("worker", "transaction-processing", "media-thumbnails", "--run-for-ms", "50")
    assert code == 2
    assert "queue: no enabled module handles 'media-thumbnails'" in err
    assert "notification-email" in err and "transaction-processing" in err
    assert out == ""  # refused before any worker started: nothing was taken
    _, out, _ = run("job", "transaction-processing", "j-9")
    assert _json(out)["state"] == "waiting"


def test_a_worker_without_queues_runs_every_queue_the_enabled_modules_handle(run: Run) -> None:
    code, out, _ = run("worker", "--run-for-ms", "50")
    assert code == 0
    started = sorted(
        line.split("queue=")[1].split()[0] for line in out.splitlines() if line.startswith("worker ")
    )
    assert started == [
        "batch-message-sending",
        "message-cleanup",
        "notification-email",
        "notification-push",
        "notification-sms",
        "slack-alerts",
        "slack-messages",
        "transaction-processing",
    ]


def test_the_module_flag_replaces_the_configured_modules(run: Run) -> None:
    code, _, err = run("--module", "domain.slack.module:MODULE", "worker", "transaction-processing")
    assert code == 2
    assert "queues with handlers: slack-alerts, slack-messages;" in err


def test_modules_come_from_the_config_file(run: Run, tmp_path: Path) -> None:
    config = tmp_path / "backbone.toml"
    config.write_text('[app]\nmodules = ["domain.transactions.module"]\n')
    code, out, _ = run("stats", "--config", str(config), "--json")
    assert code == 0
    assert [row["queue"] for row in _json(out)] == ["transaction-processing"]


def test_modules_come_from_the_environment_as_a_comma_separated_list(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKBONE_APP__MODULES", "domain.slack.module:MODULE, domain.transactions.module")
    code, out, _ = run("stats", "--json")
    assert code == 0
    assert [row["queue"] for row in _json(out)] == [
        "slack-alerts",
        "slack-messages",
        "transaction-processing",
    ]


def test_a_module_entry_that_cannot_be_imported_exits_2_naming_the_entry(run: Run) -> None:
    code, _, err = run("--module", "teams.nowhere.module:MODULE", "stats")
    assert code == 2
    assert "app.modules: cannot import 'teams.nowhere.module' for entry 'teams.nowhere.module:MODULE'" in err


def test_a_module_entry_naming_something_else_than_a_module_declaration_exits_2(run: Run) -> None:
    code, _, err = run("--module", "domain.slack.jobs:ALERT_JOB", "stats")
    assert code == 2
    assert "app.modules: 'domain.slack.jobs:ALERT_JOB' must be a DomainModule, got str" in err


def test_the_demo_without_the_payment_module_exits_2_naming_the_missing_service(run: Run) -> None:
    code, _, err = run("--module", "domain.slack.module", "demo", "--payments", "1")
    assert code == 2
    assert "no enabled module offers the service PaymentCompletedHandler" in err


def test_a_job_enqueued_on_another_queue_than_its_modules_exits_2_naming_its_queue(run: Run) -> None:
    code, _, err = run("enqueue", "notification-email", "transaction.settlement.v1", "--data", SETTLE_DATA)
    assert code == 2
    assert err.strip().endswith(
        "name: must be a job of queue 'notification-email' ('transaction.settlement.v1' goes to "
        "'transaction-processing'; jobs of 'notification-email': notification.email.send.v1)"
    )
    _, out, _ = run("stats", "notification-email", "--json")
    assert _json(out)[0]["waiting"] == 0
