from __future__ import annotations

import json
from pathlib import Path

import pytest

from bootstrap.cli import main
from bootstrap.container import build_container, shutdown
from bootstrap.demo import DemoOptions, run_demo
from bootstrap.settings import load_settings


def test_the_demo_command_drains_every_queue_and_prints_the_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["demo", "--payments", "40", "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 0
    header = next(line for line in out.splitlines() if line.startswith("queue"))
    assert header.split()[:6] == ["queue", "jobs", "completed", "retries", "dead-lettered", "delayed"]
    for queue in ("notification-email", "slack-alerts", "transaction-processing"):
        assert queue in out
    assert "all queues drained; total time" in out
    # seed 003's nightly cleanup: the declared schedule fires once on the demo clock (ADR 0022)
    fired = next(line for line in out.splitlines() if line.startswith("message-cleanup: slot"))
    assert "T02:00:00Z (demo clock) added 1 job -> schedule:message-cleanup:" in fired
    assert "completed: {'deleted': 120, 'dry_run': False}" in fired
    assert "message-cleanup: 80 of 200 seeded messages left" in out


async def test_every_payment_ends_settled_and_every_email_delivered_or_dead_lettered() -> None:
    container = build_container(load_settings())
    options = DemoOptions(
        payments=60,
        seed=11,
        email_transient_failure_rate=0.3,
        email_permanent_failure_rate=0.1,
        replay_rate=0.2,
        retry_delay_ms=5,
        ms_per_day=1000,  # settlements 1..3 s ahead stay delayed even on a loaded machine
    )
    summary = await run_demo(container, options)
    await shutdown(container)
    email = summary.queues["notification-email"]
    settlement = summary.queues["transaction-processing"]
    assert summary.drained
    assert email.jobs == 60
    assert email.completed + email.dead_lettered == 60
    assert email.retries > 0
    assert email.dead_lettered > 0
    assert summary.emails_delivered == email.completed
    assert settlement.completed == summary.settlements_recorded == 60
    assert settlement.delayed > 0
    assert summary.queues["slack-alerts"].jobs == summary.high_value == summary.alerts_posted
    assert summary.deduplicated > 0


def test_the_demo_puts_the_job_log_lines_in_the_file_it_names_not_on_the_terminal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log_file = tmp_path / "demo.log"
    code = main(["demo", "--payments", "40", "--seed", "3", "--log-file", str(log_file)])
    captured = capsys.readouterr()
    assert code == 0
    assert f"per-job log lines go to {log_file}" in captured.out
    lines = log_file.read_text(encoding="utf-8").splitlines()
    assert lines and all(" WARNING " in line or " ERROR " in line for line in lines)
    assert f"log: {len(lines)} lines (warnings and errors of the jobs) in {log_file}" in captured.out
    assert "WARNING" not in captured.err and "ERROR" not in captured.err


def test_the_demo_with_verbose_prints_the_job_log_lines_on_the_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["demo", "--payments", "40", "--seed", "3", "--verbose"])
    captured = capsys.readouterr()
    assert code == 0
    assert "per-job log lines go to" not in captured.out
    assert "injected" in captured.err


def test_the_demo_with_json_prints_the_summary_as_one_document(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log_file = tmp_path / "demo.log"
    code = main(["demo", "--payments", "20", "--seed", "3", "--json", "--log-file", str(log_file)])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["drained"] is True
    assert [row["queue"] for row in document["queues"]] == [
        "notification-email",
        "slack-alerts",
        "transaction-processing",
    ]
    assert document["log_file"] == str(log_file)
    assert document["log_lines"] == len(log_file.read_text(encoding="utf-8").splitlines())
