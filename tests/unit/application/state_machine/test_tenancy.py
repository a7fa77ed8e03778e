"""Fair share and tenant limits in the state machine (ADR 0021), beyond the contract behaviours."""

from __future__ import annotations

import pytest

from application.queue_backend import JobDraft
from application.state_machine import events as ev
from application.state_machine.machine import QueueStateMachine
from domain.queue.metadata import JobMetadata
from domain.queue.options import JobOptions, QueueDefaults
from domain.queue.tenancy import TenantPolicy

T0 = 1_000_000
RESOLVED = JobOptions().resolve(QueueDefaults(attempts=2))


def draft(job_id: str, tenant: str | None) -> JobDraft:
    return JobDraft(job_id, "test.job.v1", "{}", RESOLVED, JobMetadata(correlation_id=job_id, tenant_id=tenant), T0)


def add(machine: QueueStateMachine, tenant: str | None, *job_ids: str) -> None:
    machine.apply(ev.Add(tuple(draft(job_id, tenant) for job_id in job_ids), T0))


def claim(machine: QueueStateMachine, count: int, policy: TenantPolicy | None) -> list[str]:
    outcome = machine.apply(ev.Claim("w", count, 1000, T0, tenancy=policy))
    return [c.job.id for c in outcome.jobs]


def test_a_queue_without_a_tenant_policy_stays_first_in_first_out_across_tenants() -> None:
    machine = QueueStateMachine("q")
    add(machine, "acme", "a1", "a2")
    add(machine, "globex", "g1")
    assert claim(machine, 3, None) == ["a1", "a2", "g1"]
    assert machine.tenancy is None


def test_the_first_policy_claim_indexes_the_waiting_jobs_and_counts_the_running_ones() -> None:
    machine = QueueStateMachine("q")
    add(machine, "acme", "a1", "a2", "a3")
    add(machine, "globex", "g1")
    assert claim(machine, 1, None) == ["a1"]  # running before the queue opted in
    assert claim(machine, 5, TenantPolicy(max_active=1)) == ["g1"]  # acme already runs one


def test_claims_without_a_policy_after_opting_in_keep_the_turns_but_not_the_limits() -> None:
    machine = QueueStateMachine("q")
    add(machine, "acme", "a1", "a2")
    add(machine, "globex", "g1")
    assert claim(machine, 1, TenantPolicy(max_active=1)) == ["a1"]
    assert claim(machine, 2, None) == ["g1", "a2"]


@pytest.mark.slow
def test_a_burst_of_100000_jobs_delays_another_tenants_new_job_by_one_turn() -> None:
    machine = QueueStateMachine("q")
    add(machine, "bulk", *(f"b{i}" for i in range(100_000)))
    policy = TenantPolicy()
    assert claim(machine, 10, policy) == [f"b{i}" for i in range(10)]
    add(machine, "acme", "late")
    assert claim(machine, 2, policy) == ["b10", "late"]
