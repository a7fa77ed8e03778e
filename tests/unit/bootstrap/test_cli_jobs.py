"""``backbone jobs`` and ``backbone job logs`` run in-process on ``memory://`` (one shared broker)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from dependency_injector import providers

from adapters.memory import MemoryBroker
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from application.queue_backend import ClaimRequest, LeaseRef
from bootstrap.cli import main
from bootstrap.cli_jobs import readable_time
from bootstrap.container import Container

QUEUE = "transaction-processing"
SETTLEMENT = [QUEUE, "transaction.settlement.v1"]

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
def run(broker: MemoryBroker, capsys: pytest.CaptureFixture[str]) -> Run:
    def hook(container: Container) -> None:
        broker.reopen()
        container.broker.override(providers.Object(broker))

    def invoke(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv), container_hook=hook)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def _enqueue(run: Run, tx: str, *flags: str) -> str:
    data = json.dumps({"tx_id": tx, "amount_minor": 500, "currency": "EUR"})
    code, out, err = run("enqueue", *SETTLEMENT, "--data", data, *flags)
    assert code == 0, err
    job_id: str = json.loads(out)["id"]
    return job_id


def _log_lines(broker: MemoryBroker, job_id: str, *lines: str) -> None:
    """A worker's handler logging: claim the job and store lines under its lease."""

    async def log() -> None:
        broker.reopen()
        queue = broker.queue(JobFactory(QUEUE, JobTypes()))
        [claimed] = await queue.claim(ClaimRequest("w", 1, 60_000, block_ms=100))
        assert claimed.job.id == job_id
        for line in lines:
            assert await queue.append_log(LeaseRef(job_id, claimed.token), line)

    asyncio.run(log())


def test_jobs_lists_the_waiting_jobs_in_claim_order_as_a_table_with_readable_times(run: Run) -> None:
    normal = _enqueue(run, "tx-1")
    urgent = _enqueue(run, "tx-2", "--priority", "1")
    code, out, _ = run("jobs", QUEUE, "--state", "waiting")
    assert code == 0
    header, _, *rows = out.splitlines()
    assert header.split() == ["job_id", "name", "priority", "attempts", "created"]
    assert [row.split()[0] for row in rows] == [urgent, normal]
    assert "Z (" in rows[0]  # ISO 8601 in UTC, then the relative hint


def test_jobs_pages_with_limit_and_offset_and_prints_json(run: Run) -> None:
    ids = [_enqueue(run, f"tx-{n}") for n in range(4)]
    code, out, _ = run("jobs", QUEUE, "--state", "waiting", "--limit", "2", "--offset", "1", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [job["id"] for job in listed] == ids[1:3]
    assert {job["state"] for job in listed} == {"waiting"}


def test_jobs_of_an_empty_state_says_so(run: Run) -> None:
    code, out, _ = run("jobs", QUEUE, "--state", "completed")
    assert (code, out.strip()) == (0, f"no completed jobs on {QUEUE} (offset 0)")


def test_jobs_with_a_negative_limit_exits_2_naming_the_field(run: Run) -> None:
    code, out, err = run("jobs", QUEUE, "--state", "waiting", "--limit", "-1")
    assert (code, out) == (2, "")
    assert "limit" in err and ">= 0" in err


def test_jobs_with_an_unknown_state_exits_2_naming_the_flag_and_the_states(run: Run) -> None:
    code, _, err = run("jobs", QUEUE, "--state", "finished")
    assert code == 2
    assert "--state" in err and "waiting" in err and "failed" in err


def test_job_logs_prints_each_line_with_its_time(run: Run, broker: MemoryBroker) -> None:
    job_id = _enqueue(run, "tx-1")
    _log_lines(broker, job_id, "fetched the rate", "charged the card")
    code, out, _ = run("job", "logs", QUEUE, job_id)
    assert code == 0
    lines = out.splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == ["fetched the rate", "charged the card"]
    code, out, _ = run("job", "logs", QUEUE, job_id, "--json")
    document = json.loads(out)
    assert (document["queue"], document["job_id"]) == (QUEUE, job_id)
    assert [line["text"] for line in document["lines"]] == ["fetched the rate", "charged the card"]
    assert all(isinstance(line["at"], int) for line in document["lines"])


def test_job_logs_of_a_job_without_lines_says_so(run: Run) -> None:
    job_id = _enqueue(run, "tx-1")
    code, out, _ = run("job", "logs", QUEUE, job_id)
    assert (code, out.strip()) == (0, f"job {job_id} on {QUEUE} has no log lines")


def test_job_logs_of_an_unknown_job_exits_1_on_stderr(run: Run) -> None:
    code, out, err = run("job", "logs", QUEUE, "no-such-job")
    assert (code, out) == (1, "")
    assert err.strip() == f"backbone: error: job no-such-job not found on queue {QUEUE}"


def test_job_with_two_arguments_still_shows_the_job(run: Run) -> None:
    job_id = _enqueue(run, "tx-1")
    code, out, _ = run("job", QUEUE, job_id)
    assert code == 0
    assert json.loads(out)["id"] == job_id


def test_a_readable_time_is_iso_8601_in_utc_with_a_relative_hint() -> None:
    now = 1_780_000_000_000
    assert readable_time(now - 90_000, now) == "2026-05-28T20:25:10Z (1m ago)"
    assert readable_time(now + 7_200_000, now) == "2026-05-28T22:26:40Z (in 2h)"
    assert readable_time(now, now).endswith("(now)")
    assert readable_time(None, now) == ""
