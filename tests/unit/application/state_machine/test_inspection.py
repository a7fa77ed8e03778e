"""The state machine's inspection reads (ADR 0026): listing one state's jobs and job logs."""

from __future__ import annotations

import pytest
from tests.unit.application.state_machine.test_state_machine import T0, add, claim

from application.queue_backend import LeaseRef
from application.state_machine import events as ev
from application.state_machine.machine import QueueStateMachine
from domain.queue.job import JobLogLine, JobState


@pytest.fixture
def machine() -> QueueStateMachine:
    return QueueStateMachine(queue="q")


def _ids(machine: QueueStateMachine, state: JobState) -> list[str]:
    return [job.id for job in machine.list_jobs(state, 100, 0)]


def test_a_retried_job_is_listed_once_at_its_new_place_in_the_waiting_order(
    machine: QueueStateMachine,
) -> None:
    add(machine, "a", "b")
    [(job_id, token)] = claim(machine)
    machine.apply(ev.Fail(LeaseRef(job_id, token), "boom", None, retry_delay_ms=0, now=T0 + 1))
    assert _ids(machine, JobState.WAITING) == ["b", "a"]


def test_a_job_whose_lease_was_extended_is_listed_once_as_active(machine: QueueStateMachine) -> None:
    add(machine, "a", "b")
    [(first, token)] = claim(machine)
    claim(machine)
    machine.apply(ev.Extend("w", (LeaseRef(first, token),), 5000, T0 + 1))
    assert _ids(machine, JobState.ACTIVE) == ["b", "a"]


def test_a_delayed_job_that_fell_due_is_listed_as_waiting_not_delayed(machine: QueueStateMachine) -> None:
    add(machine, "later", delay=100)
    machine.apply(ev.Tick(T0 + 100))
    assert (_ids(machine, JobState.DELAYED), _ids(machine, JobState.WAITING)) == ([], ["later"])


def test_log_lines_carry_the_state_machine_time_and_only_the_newest_keep_stay(
    machine: QueueStateMachine,
) -> None:
    add(machine, "a")
    [(job_id, token)] = claim(machine)
    for n in range(4):
        assert machine.apply(ev.AppendLog(LeaseRef(job_id, token), f"line {n}", keep=2, now=T0 + n))
    assert machine.job_logs("a") == [JobLogLine(T0 + 2, "line 2"), JobLogLine(T0 + 3, "line 3")]


def test_log_lines_stay_when_a_dead_letter_is_reprocessed(machine: QueueStateMachine) -> None:
    add(machine, "a", attempts=1)
    [(job_id, token)] = claim(machine)
    machine.apply(ev.AppendLog(LeaseRef(job_id, token), "before the failure", keep=10, now=T0))
    machine.apply(ev.Fail(LeaseRef(job_id, token), "boom", None, retry_delay_ms=None, now=T0 + 1))
    machine.apply(ev.Reprocess("a", T0 + 2))
    assert machine.job_logs("a") == [JobLogLine(T0, "before the failure")]
