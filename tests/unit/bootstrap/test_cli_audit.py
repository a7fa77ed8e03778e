"""``backbone audit`` and ``--actor`` in-process on ``memory://``: one shared broker and audit store
per test stand in for a broker that outlives each command (ADR 0024)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from adapters.memory import MemoryBroker
from adapters.memory.audit_store import MemoryAuditStore
from application.audit import default_actor
from bootstrap.cli import main
from bootstrap.cli_audit import parse_since
from bootstrap.container import Container
from bootstrap.settings import SettingsError

QUEUE = "transaction-processing"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def store() -> MemoryAuditStore:
    return MemoryAuditStore()


@pytest.fixture
def run(store: MemoryAuditStore, capsys: pytest.CaptureFixture[str]) -> Run:
    broker = MemoryBroker()

    def hook(container: Container) -> None:
        broker.reopen()
        container.broker.override(providers.Object(broker))
        container.audit_store.override(providers.Object(store))

    def invoke(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv), container_hook=hook)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def _entries(run: Run, *argv: str) -> list[dict[str, Any]]:
    code, out, err = run("audit", "--json", *argv)
    assert code == 0, err
    entries: list[dict[str, Any]] = json.loads(out)
    return entries


def test_an_admin_command_is_recorded_with_the_actor_given_by_the_flag(run: Run) -> None:
    assert run("pause", QUEUE, "--actor", "alice")[0] == 0

    [entry] = _entries(run)

    assert (entry["action"], entry["queue"], entry["actor"], entry["outcome"]) == (
        "pause",
        QUEUE,
        "alice",
        "ok",
    )
    assert entry["time"].endswith("Z")


def test_without_the_flag_the_cli_records_the_os_user(run: Run) -> None:
    run("resume", QUEUE)

    [entry] = _entries(run)

    assert entry["actor"] == default_actor()


def test_the_actor_setting_names_who_acts_when_no_flag_is_given(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKBONE_AUDIT__ACTOR", "deploy-bot")
    run("pause", QUEUE)

    [entry] = _entries(run)

    assert entry["actor"] == "deploy-bot"


def test_dlq_and_clean_commands_are_recorded_with_their_counts(run: Run) -> None:
    run("clean", QUEUE, "--state", "completed", "--grace-ms", "0", "--actor", "ops")
    run("dlq", "reprocess", QUEUE, "--all", "--actor", "ops")
    run("dlq", "purge", QUEUE, "--older-than-ms", "1000", "--actor", "ops")
    run("dlq", "reprocess", QUEUE, "missing-id", "--actor", "ops")

    entries = _entries(run)

    assert [(e["action"], e["count"], e["outcome"], e["job_ids"]) for e in entries] == [
        ("clean", 0, "ok", []),
        ("dlq.reprocess_all", 0, "ok", []),
        ("dlq.purge", 0, "ok", []),
        ("dlq.reprocess", None, "not_found", ["missing-id"]),
    ]


def test_the_log_is_filtered_by_queue_and_actor(run: Run) -> None:
    run("pause", QUEUE, "--actor", "alice")
    run("pause", "notification-dispatch", "--actor", "bob")

    assert [e["actor"] for e in _entries(run, "--queue", QUEUE)] == ["alice"]
    assert [e["queue"] for e in _entries(run, "--actor", "bob")] == ["notification-dispatch"]


def test_the_table_shows_one_row_per_entry(run: Run) -> None:
    run("pause", QUEUE, "--actor", "alice")

    code, out, _ = run("audit")

    assert code == 0
    header, *rows = [line for line in out.splitlines() if line.strip() and not set(line) <= {"-", " "}]
    assert header.split()[:5] == ["time", "actor", "action", "queue", "outcome"]
    assert len(rows) == 1 and "alice" in rows[0] and "pause" in rows[0]


def test_a_failed_audit_write_makes_the_command_exit_1_saying_the_action_was_done(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("BACKBONE_AUDIT__FILE", str(blocker / "audit.jsonl"))

    code, out, err = run("pause", QUEUE, "--actor", "alice")

    assert code == 1
    assert f"pause of queue {QUEUE} was done (outcome ok), but its audit entry could not be written" in err
    assert "JsonLinesAuditSink" in err
    monkeypatch.delenv("BACKBONE_AUDIT__FILE")
    code, out, _ = run("stats", QUEUE, "--json")
    assert json.loads(out)[QUEUE]["paused"] is True


def test_the_audit_file_mirrors_every_entry_as_a_json_line(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit" / "audit.jsonl"
    monkeypatch.setenv("BACKBONE_AUDIT__FILE", str(path))

    run("pause", QUEUE, "--actor", "alice")
    run("resume", QUEUE, "--actor", "alice")

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["action"], line["actor"]) for line in lines] == [("pause", "alice"), ("resume", "alice")]


def test_with_the_audit_log_disabled_nothing_is_recorded(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKBONE_AUDIT__ENABLED", "false")
    run("pause", QUEUE)

    assert _entries(run) == []


def test_a_bad_since_is_refused_naming_the_flag(run: Run) -> None:
    code, _, err = run("audit", "--since", "yesterday")

    assert code == 2
    assert "--since: must be an ISO time" in err


def test_since_takes_an_age_or_a_time() -> None:
    now = 1_800_000_000_000
    assert parse_since("30m", now) == now - 30 * 60_000
    assert parse_since("7d", now) == now - 7 * 86_400_000
    assert parse_since("2026-12-01T10:00:00Z", now) == 1_796_119_200_000
    assert parse_since("2026-12-01", now) == 1_796_083_200_000
    with pytest.raises(SettingsError):
        parse_since("12 hours", now)
