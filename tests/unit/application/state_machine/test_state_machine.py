"""The queue state machine, event by event (the reference model of the contract)."""

from __future__ import annotations

import pytest

from application.queue_backend import JobDraft, LeaseRef
from application.state_machine import events as ev
from application.state_machine.machine import QueueStateMachine
from domain.queue.errors import InvalidOptionError
from domain.queue.job import DeadLetterFilter, JobState
from domain.queue.metadata import JobMetadata
from domain.queue.options import JobOptions, KeepJobs, QueueDefaults, RateLimit

T0 = 1_000_000


def draft(job_id: str, *, now: int = T0, **options: object) -> JobDraft:
    resolved = JobOptions(**options).resolve(QueueDefaults(attempts=2))  # type: ignore[arg-type]
    return JobDraft(job_id, "test.job.v1", "{}", resolved, JobMetadata(correlation_id=job_id), now)


def add(machine: QueueStateMachine, *job_ids: str, now: int = T0, **options: object) -> None:
    machine.apply(ev.Add(tuple(draft(job_id, now=now, **options) for job_id in job_ids), now))


def claim(
    machine: QueueStateMachine,
    count: int = 1,
    *,
    now: int = T0,
    worker: str = "w",
    lease: int = 1000,
    limiter: RateLimit | None = None,
) -> list[tuple[str, str]]:
    outcome = machine.apply(ev.Claim(worker, count, lease, now, limiter))
    return [(c.job.id, c.token) for c in outcome.jobs]


@pytest.fixture
def machine() -> QueueStateMachine:
    return QueueStateMachine(queue="q")


def test_added_job_waits_and_a_delayed_one_is_delayed(machine: QueueStateMachine) -> None:
    add(machine, "a")
    add(machine, "b", delay=500)
    assert machine.get("a").state is JobState.WAITING
    delayed = machine.get("b")
    assert (delayed.state, delayed.due_at) == (JobState.DELAYED, T0 + 500)


def test_claim_takes_the_highest_priority_then_fifo(machine: QueueStateMachine) -> None:
    add(machine, "low", priority=9)
    add(machine, "first-normal")
    add(machine, "critical", priority=1)
    add(machine, "second-normal")
    assert [job_id for job_id, _ in claim(machine, 4)] == ["critical", "first-normal", "second-normal", "low"]


def test_delayed_job_is_promoted_when_due(machine: QueueStateMachine) -> None:
    add(machine, "later", delay=500)
    assert claim(machine, now=T0 + 499) == []
    assert [job_id for job_id, _ in claim(machine, now=T0 + 500)] == ["later"]


def test_claim_reports_when_the_next_delayed_job_is_due(machine: QueueStateMachine) -> None:
    add(machine, "later", delay=700)
    outcome = machine.apply(ev.Claim("w", 1, 1000, T0))
    assert outcome.jobs == ()
    assert outcome.wake_at == T0 + 700


def test_claim_counts_an_attempt_and_gives_a_fencing_token(machine: QueueStateMachine) -> None:
    add(machine, "a")
    [(job_id, token)] = claim(machine)
    job = machine.get(job_id)
    assert (job.state, job.attempts_started, job.processed_on) == (JobState.ACTIVE, 1, T0)
    assert token


def test_stale_token_cannot_complete(machine: QueueStateMachine) -> None:
    add(machine, "a")
    [(_, stale)] = claim(machine, lease=100)
    [(_, fresh)] = claim(machine, now=T0 + 200, worker="other")
    assert machine.apply(ev.Complete(LeaseRef("a", stale), '"x"', T0 + 201)) is False
    assert machine.apply(ev.Complete(LeaseRef("a", fresh), '"y"', T0 + 202)) is True
    assert machine.get("a").return_value == "y"


def test_expired_lease_puts_the_job_back_and_keeps_the_attempt(machine: QueueStateMachine) -> None:
    add(machine, "a")
    claim(machine, lease=100)
    machine.apply(ev.Tick(T0 + 101))
    job = machine.get("a")
    assert (job.state, job.attempts_started) == (JobState.WAITING, 1)
    assert "lease expired" in job.stacktrace[-1]


def test_expired_lease_on_the_last_attempt_dead_letters(machine: QueueStateMachine) -> None:
    add(machine, "a", attempts=1)
    claim(machine, lease=100)
    machine.apply(ev.Tick(T0 + 101))
    job = machine.get("a")
    assert job.state is JobState.FAILED
    assert [letter.job_id for letter in machine.dead_letters(10, 0)] == ["a"]


def test_extended_lease_survives_past_its_first_expiry(machine: QueueStateMachine) -> None:
    add(machine, "a")
    [(_, token)] = claim(machine, lease=100)
    assert machine.apply(ev.Extend("w", (LeaseRef("a", token),), 100, T0 + 90)) == []
    machine.apply(ev.Tick(T0 + 150))
    assert machine.get("a").state is JobState.ACTIVE


def test_fail_with_a_retry_delay_makes_the_job_delayed(machine: QueueStateMachine) -> None:
    add(machine, "a")
    [(_, token)] = claim(machine)
    outcome = machine.apply(ev.Fail(LeaseRef("a", token), "boom", "trace", 250, T0 + 10))
    job = machine.get("a")
    assert (outcome.state, job.due_at, job.attempts_made) == (JobState.DELAYED, T0 + 260, 1)


def test_fail_without_retry_dead_letters(machine: QueueStateMachine) -> None:
    add(machine, "a")
    [(_, token)] = claim(machine)
    machine.apply(ev.Fail(LeaseRef("a", token), "permanent", None, None, T0 + 10))
    job = machine.get("a")
    assert (job.state, job.failed_reason, job.finished_on) == (JobState.FAILED, "permanent", T0 + 10)


def test_fail_after_the_last_attempt_dead_letters_even_if_a_retry_is_asked(
    machine: QueueStateMachine,
) -> None:
    add(machine, "a", attempts=1)
    [(_, token)] = claim(machine)
    machine.apply(ev.Fail(LeaseRef("a", token), "boom", None, 100, T0))
    assert machine.get("a").state is JobState.FAILED


def test_release_hands_the_job_back_with_its_place_and_without_the_attempt(
    machine: QueueStateMachine,
) -> None:
    add(machine, "a", "b")
    claimed = claim(machine, 2)
    machine.apply(ev.Release("w", tuple(LeaseRef(j, t) for j, t in claimed), T0))
    assert (machine.get("a").attempts_started, machine.get("a").state) == (0, JobState.WAITING)
    assert [job_id for job_id, _ in claim(machine, 2)] == ["a", "b"]


def test_hand_back_delays_the_job_without_counting_the_attempt_and_counts_the_hand_back(
    machine: QueueStateMachine,
) -> None:
    add(machine, "a")
    [(_, token)] = claim(machine)
    outcome = machine.apply(ev.HandBack(ev.LeaseRef("a", token), 500, T0 + 10))
    job = machine.get("a")
    assert (outcome.accepted, outcome.state) == (True, JobState.DELAYED)
    assert (job.state, job.due_at, job.attempts_started, job.hand_backs) == (JobState.DELAYED, T0 + 510, 0, 1)
    assert job.processed_on is None
    assert claim(machine, now=T0 + 509) == []
    [(job_id, _)] = claim(machine, now=T0 + 510)
    assert (job_id, machine.get("a").attempts_started) == ("a", 1)


def test_hand_back_with_no_delay_makes_the_job_waiting_at_once(machine: QueueStateMachine) -> None:
    add(machine, "a")
    [(_, token)] = claim(machine)
    assert machine.apply(ev.HandBack(ev.LeaseRef("a", token), 0, T0)).state is JobState.WAITING
    assert [job_id for job_id, _ in claim(machine)] == ["a"]


def test_hand_back_with_a_stale_token_changes_nothing(machine: QueueStateMachine) -> None:
    add(machine, "a")
    [(_, token)] = claim(machine)
    assert machine.apply(ev.HandBack(ev.LeaseRef("a", token + "x"), 0, T0)).accepted is False
    job = machine.get("a")
    assert (job.state, job.attempts_started, job.hand_backs) == (JobState.ACTIVE, 1, 0)


def test_hand_back_refuses_a_negative_delay(machine: QueueStateMachine) -> None:
    add(machine, "a")
    [(_, token)] = claim(machine)
    with pytest.raises(InvalidOptionError, match="delay_ms"):
        machine.apply(ev.HandBack(ev.LeaseRef("a", token), -1, T0))


def test_reprocessing_a_dead_letter_forgets_its_hand_backs(machine: QueueStateMachine) -> None:
    add(machine, "a")
    [(_, token)] = claim(machine)
    machine.apply(ev.HandBack(ev.LeaseRef("a", token), 0, T0))
    [(_, token)] = claim(machine)
    machine.apply(ev.Fail(ev.LeaseRef("a", token), "no handler", None, None, T0))
    assert machine.get("a").hand_backs == 1
    machine.apply(ev.Reprocess("a", T0))
    assert machine.get("a").hand_backs == 0


def test_paused_queue_hands_out_nothing_until_resumed(machine: QueueStateMachine) -> None:
    add(machine, "a")
    machine.apply(ev.Pause(T0))
    assert claim(machine) == []
    machine.apply(ev.Resume(T0))
    assert [job_id for job_id, _ in claim(machine)] == ["a"]


def test_job_id_dedup_returns_the_original(machine: QueueStateMachine) -> None:
    [first] = machine.apply(ev.Add((draft("x"),), T0))
    [second] = machine.apply(ev.Add((draft("x"),), T0))
    assert (first.deduplicated, second.deduplicated) == (False, True)
    assert machine.stats().total == 1


def test_idempotency_key_outlives_removal_until_its_ttl(machine: QueueStateMachine) -> None:
    add(machine, "a", idempotency_key="k", idempotency_ttl=1000)
    machine.apply(ev.Remove("a", T0))
    [again] = machine.apply(ev.Add((draft("b", idempotency_key="k", idempotency_ttl=1000),), T0 + 999))
    assert (again.id, again.state) == ("a", JobState.REMOVED)
    [fresh] = machine.apply(ev.Add((draft("c", idempotency_key="k", idempotency_ttl=1000),), T0 + 1000))
    assert (fresh.id, fresh.deduplicated) == ("c", False)


def test_active_job_cannot_be_removed(machine: QueueStateMachine) -> None:
    add(machine, "a")
    claim(machine)
    assert machine.apply(ev.Remove("a", T0)) is False


def test_replace_data_rewrites_a_waiting_job_that_still_holds_the_expected_data(
    machine: QueueStateMachine,
) -> None:
    add(machine, "a")
    assert machine.apply(ev.ReplaceData("a", "{}", '{"rotated":true}', T0)) is True
    assert machine.get("a").data == {"rotated": True}
    assert machine.rewritable() == [("a", "test.job.v1", '{"rotated":true}')]


def test_replace_data_leaves_an_active_job_a_changed_one_a_missing_one_and_undecodable_data(
    machine: QueueStateMachine,
) -> None:
    add(machine, "active", "other")
    claim(machine)
    assert machine.apply(ev.ReplaceData("active", "{}", '{"x":1}', T0)) is False
    assert machine.apply(ev.ReplaceData("other", '{"stale":1}', '{"x":1}', T0)) is False
    assert machine.apply(ev.ReplaceData("missing", "{}", '{"x":1}', T0)) is False
    assert machine.apply(ev.ReplaceData("other", "{}", "{not json", T0)) is False
    assert (machine.get("active").data, machine.get("other").data) == ({}, {})
    assert [entry[0] for entry in machine.rewritable()] == ["other"]


def test_keep_newest_n_completed_jobs(machine: QueueStateMachine) -> None:
    for index in range(4):
        add(machine, f"j{index}", remove_on_complete=2)
        [(job_id, token)] = claim(machine)
        machine.apply(ev.Complete(LeaseRef(job_id, token), "null", T0 + index))
    assert [job_id for job_id in ("j0", "j1", "j2", "j3") if machine.get(job_id)] == ["j2", "j3"]
    assert machine.stats().completed == 2


def test_keep_by_age_drops_old_completed_jobs(machine: QueueStateMachine) -> None:
    for index, now in enumerate((T0, T0 + 500)):
        add(machine, f"j{index}", now=now, remove_on_complete=KeepJobs(age=300))
        [(job_id, token)] = claim(machine, now=now)
        machine.apply(ev.Complete(LeaseRef(job_id, token), "null", now))
    assert machine.get("j0") is None and machine.get("j1") is not None


def test_clean_removes_only_jobs_finished_before_the_grace(machine: QueueStateMachine) -> None:
    for index, now in enumerate((T0, T0 + 100, T0 + 900)):
        add(machine, f"j{index}", now=now)
        [(job_id, token)] = claim(machine, now=now)
        machine.apply(ev.Complete(LeaseRef(job_id, token), "null", now))
    assert machine.apply(ev.Clean(500, JobState.COMPLETED, 10, T0 + 1000)) == 2
    assert machine.get("j2") is not None


def test_clean_refuses_unfinished_states(machine: QueueStateMachine) -> None:
    with pytest.raises(InvalidOptionError):
        machine.apply(ev.Clean(0, JobState.ACTIVE, 10, T0))


def test_rate_limit_window_bounds_claims_and_reports_the_window_end(machine: QueueStateMachine) -> None:
    add(machine, *[f"j{i}" for i in range(5)])
    limit = RateLimit(max=2, duration=1000)
    now = 5_000_250
    assert len(claim(machine, 5, now=now, limiter=limit)) == 2
    outcome = machine.apply(ev.Claim("w", 5, 1000, now + 10, limit))
    assert (outcome.jobs, outcome.wake_at) == ((), 5_001_000)
    assert len(claim(machine, 5, now=5_001_000, limiter=limit)) == 2


def test_reprocess_all_with_a_filter_revives_only_matching_letters(machine: QueueStateMachine) -> None:
    for job_id in ("a", "b"):
        add(machine, job_id)
        [(_, token)] = claim(machine)
        machine.apply(ev.Fail(LeaseRef(job_id, token), f"reason {job_id}", None, None, T0))
    assert machine.apply(ev.ReprocessAll(DeadLetterFilter(reason_contains="reason a"), T0)) == 1
    assert (machine.get("a").state, machine.get("b").state) == (JobState.WAITING, JobState.FAILED)


def test_malformed_record_is_stored_as_a_dead_letter_with_its_bytes(machine: QueueStateMachine) -> None:
    machine.apply(ev.RecordMalformed("m-1", b"\xff", "not UTF-8", T0))
    [letter] = machine.dead_letters(10, 0)
    assert (letter.job_id, letter.reason, letter.raw_record) == ("m-1", "not UTF-8", b"\xff")


def test_time_never_goes_backwards(machine: QueueStateMachine) -> None:
    machine.apply(ev.Tick(T0 + 1000))
    add(machine, "late", now=T0)
    assert machine.now == T0 + 1000
