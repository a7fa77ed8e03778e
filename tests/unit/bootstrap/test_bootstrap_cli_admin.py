"""The admin commands of ``backbone`` (remove, drain, queues, errors, ``--json`` shapes, help text)
run in-process on ``memory://``; one shared ``MemoryBroker`` per test outlives each command."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dependency_injector import providers

from adapters.memory import MemoryBroker
from adapters.outbound.notification_senders import InMemoryNotificationSender
from adapters.outbound.slack_clients import InMemorySlackClient
from bootstrap.cli import build_parser, main
from bootstrap.cli_common import DriverNoise
from bootstrap.container import Container
from bootstrap.render import relative_time, when

QUEUE = "transaction-processing"
SETTLE = "transaction.settlement.v1"
SETTLE_DATA = '{"tx_id": "tx-1", "amount_minor": 500, "currency": "EUR"}'

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
def run(broker: MemoryBroker, capsys: pytest.CaptureFixture[str]) -> Run:
    def hook(container: Container) -> None:
        broker.reopen()
        container.broker.override(providers.Object(broker))
        container.notification_sender.override(providers.Singleton(InMemoryNotificationSender))
        container.slack_client.override(providers.Singleton(InMemorySlackClient))

    def invoke(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv), container_hook=hook)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def _enqueue(run: Run, job_id: str, *extra: str) -> None:
    code, _, err = run("enqueue", QUEUE, SETTLE, "--data", SETTLE_DATA, "--job-id", job_id, *extra)
    assert code == 0, err


def _stats(run: Run) -> dict[str, Any]:
    code, out, err = run("stats", QUEUE, "--json")
    assert code == 0, err
    rows: list[dict[str, Any]] = json.loads(out)
    return rows[0]


# --- remove -----------------------------------------------------------------------------------------


def test_remove_deletes_the_job_and_says_so(run: Run) -> None:
    _enqueue(run, "j-1")
    code, out, _ = run("remove", QUEUE, "j-1")
    assert (code, out) == (0, f"removed j-1 from {QUEUE}\n")
    assert _stats(run)["waiting"] == 0


def test_remove_of_an_unknown_job_exits_1_with_one_line_on_stderr(run: Run) -> None:
    code, out, err = run("remove", QUEUE, "nope")
    assert (code, out) == (1, "")
    assert err == f"backbone: error: job nope on queue {QUEUE} not found\n"


def test_remove_with_json_prints_the_action_shape(run: Run) -> None:
    _enqueue(run, "j-2")
    code, out, _ = run("remove", QUEUE, "j-2", "--json")
    assert code == 0
    assert json.loads(out) == {"action": "remove", "queue": QUEUE, "job_id": "j-2", "count": 1}


# --- drain ------------------------------------------------------------------------------------------


def test_drain_with_yes_deletes_waiting_and_delayed_jobs(run: Run) -> None:
    _enqueue(run, "w-1")
    _enqueue(run, "d-1", "--delay", "3600000")
    code, out, _ = run("drain", QUEUE, "--yes", "--json")
    assert code == 0
    assert json.loads(out) == {"action": "drain", "queue": QUEUE, "job_id": None, "count": 2}
    stats = _stats(run)
    assert (stats["waiting"], stats["delayed"]) == (0, 0)


def test_drain_without_yes_and_without_a_terminal_deletes_nothing_and_exits_2(run: Run) -> None:
    _enqueue(run, "w-2")
    code, out, err = run("drain", QUEUE)
    assert (code, out) == (2, "")
    assert err == "backbone: error: drain: not confirmed: pass --yes (or answer y at a terminal)\n"
    assert _stats(run)["waiting"] == 1


def test_drain_of_an_empty_queue_needs_no_confirmation(run: Run) -> None:
    code, out, _ = run("drain", QUEUE)
    assert (code, out) == (0, f"drained 0 waiting and delayed jobs from {QUEUE}\n")


# --- queues -----------------------------------------------------------------------------------------


def test_queues_lists_configured_queues_and_those_only_on_the_broker(run: Run, broker: MemoryBroker) -> None:
    from application.jobs.job_factory import JobFactory
    from application.jobs.job_types import JobTypes

    broker.queue(JobFactory("legacy-exports", JobTypes(strict=False)))
    _enqueue(run, "j-3")
    code, out, _ = run("queues", "--json")
    assert code == 0
    rows = {row["queue"]: row for row in json.loads(out)}
    assert rows["legacy-exports"] == {"queue": "legacy-exports", "configured": False, "on_broker": True}
    assert rows[QUEUE] == {"queue": QUEUE, "configured": True, "on_broker": True}
    assert rows["slack-alerts"] == {"queue": "slack-alerts", "configured": True, "on_broker": False}


def test_a_queue_only_on_the_broker_is_accepted_by_stats(run: Run, broker: MemoryBroker) -> None:
    from application.jobs.job_factory import JobFactory
    from application.jobs.job_types import JobTypes

    broker.queue(JobFactory("legacy-exports", JobTypes(strict=False)))
    code, out, _ = run("stats", "legacy-exports", "--json")
    assert code == 0
    assert json.loads(out)[0]["queue"] == "legacy-exports"


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ("stats", "transaction-procesing"),
        ("job", "transaction-procesing", "j-1"),
        ("remove", "transaction-procesing", "j-1"),
        ("drain", "transaction-procesing", "--yes"),
        ("dlq", "list", "transaction-procesing"),
        ("pause", "transaction-procesing"),
        ("clean", "transaction-procesing", "--state", "completed", "--grace-ms", "0"),
    ],
)
def test_an_unknown_queue_exits_2_saying_so_and_listing_the_known_ones(
    run: Run, argv: tuple[str, ...]
) -> None:
    code, out, err = run(*argv)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith("backbone: error: queue: unknown queue 'transaction-procesing' (known: ")
    assert "transaction-processing" in err and "notification-email" in err


def test_an_error_with_json_is_one_json_line_on_stderr(run: Run) -> None:
    code, out, err = run("stats", "nope", "--json")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    document = json.loads(err)
    assert document["exit_code"] == 2
    assert document["error"].startswith("queue: unknown queue 'nope'")


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:99999/0", "amqp://guest:secret@localhost:56x72/%2F", "kafka://a:9092,b:port"]
)
def test_a_url_with_a_bad_port_is_one_line_with_exit_2(run: Run, url: str) -> None:
    code, out, err = run("stats", "--broker", url)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith("backbone: error: broker.url: port must be a number in 0..65535")
    assert "secret" not in err


def test_driver_log_lines_are_folded_into_the_one_error_line() -> None:
    noise = DriverNoise()
    noise.capture()
    try:
        pika = logging.getLogger("pika.adapters.utils.connection_workflow")
        pika.error("AMQPConnector - reporting failure: ConnectionRefusedError(111, 'Connection refused')")
        pika.error("Connection workflow failed: amqp://guest:hunter2@127.0.0.1:1/ refused")
    finally:
        noise.restore()
    folded = noise.folded_into("broker amqp://guest:***@127.0.0.1:1/ unavailable: cannot connect")
    assert folded == (
        "broker amqp://guest:***@127.0.0.1:1/ unavailable: cannot connect "
        "(driver: Connection workflow failed: amqp://guest:***@127.0.0.1:1/ refused)"
    )


def test_driver_log_lines_do_not_reach_the_terminal_during_a_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    noise = DriverNoise()
    noise.capture()
    try:
        logging.getLogger("pika").error("one of a dozen lines")
    finally:
        noise.restore()
    assert capsys.readouterr().err == ""


# --- readable times ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset_ms", "text"),
    [
        (0, "now"),
        (-42_000, "42s ago"),
        (-180_000, "3m ago"),
        (7_200_000, "in 2h"),
        (-3 * 86_400_000, "3d ago"),
    ],
)
def test_relative_times_use_the_largest_whole_unit(offset_ms: int, text: str) -> None:
    now = 1_800_000_000_000
    assert relative_time(now + offset_ms, now) == text


def test_a_time_in_a_table_is_iso_8601_and_relative() -> None:
    assert when(1_800_000_000_000, 1_800_000_180_000) == "2027-01-15T08:00:00Z (3m ago)"
    assert when(None, 0) == "-"


def test_dlq_list_shows_when_each_job_failed_as_iso_and_relative(run: Run) -> None:
    refund = '{"tx_id": "tx-9", "amount_minor": 500, "currency": "EUR", "reason": "customer asked"}'
    run("enqueue", QUEUE, "transaction.refund.v1", "--data", refund, "--job-id", "r-1")
    run("worker", QUEUE, "--run-for-ms", "300")
    code, out, _ = run("dlq", "list", QUEUE)
    assert code == 0
    row = out.splitlines()[2]
    assert row.startswith("r-1")
    assert ("Z (" in row and "ago)" in row) or "now)" in row


# --- every flag has help ----------------------------------------------------------------------------


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


def test_every_argument_of_every_command_has_help_text() -> None:
    missing = [
        f"{parser.prog} {'/'.join(action.option_strings) or action.dest}"
        for parser in _parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction) and not action.help
    ]
    assert missing == []


def test_every_command_and_flag_is_described_in_docs_cli_md() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "cli.md").read_text(encoding="utf-8")
    missing = []
    for parser in _parsers(build_parser()):
        for action in parser._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and f"`{flag}" not in doc:
                    missing.append(f"{parser.prog} {flag}")
        command = parser.prog.removeprefix("backbone").strip()
        if command and f"backbone {command}" not in doc:
            missing.append(parser.prog)
    assert sorted(set(missing)) == []
