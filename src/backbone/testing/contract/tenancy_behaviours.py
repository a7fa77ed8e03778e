"""Contract behaviours 40-45: per-tenant limits and fair share between tenants (ADR 0021).

A claim with a ``TenantPolicy`` serves the tenants of a queue in turn within a priority and keeps
each tenant under its limits; the tenant of a job is its ``metadata.tenant_id``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from application.queue_backend import ClaimedJob, ClaimRequest, LeaseRef
from backbone.testing.contract.helpers import ECHO, running_worker, wait_for_state
from domain.queue.job import JobState, NewJob
from domain.queue.metadata import JobMetadata
from domain.queue.options import JobOptions
from domain.queue.tenancy import TenantPolicy

LEASE_MS = 60_000
BURST = 2000  # one tenant's burst in the burst behaviour (100,000 in the benchmark note, ADR 0021)


def _jobs(tenant: str | None, count: int, priority: int | None = None) -> list[NewJob]:
    options = None if priority is None else JobOptions(priority=priority)
    return [NewJob(ECHO, {"t": tenant, "i": i}, options, JobMetadata(tenant_id=tenant)) for i in range(count)]


def _tenants(claimed: Any) -> list[str | None]:
    return [c.job.metadata.tenant_id for c in claimed]


async def _claim(queue: Any, policy: TenantPolicy, max_jobs: int, block_ms: int = 1000) -> list[ClaimedJob]:
    return list(
        await queue.claim(
            ClaimRequest("tenancy-worker", max_jobs, LEASE_MS, block_ms=block_ms, tenancy=policy)
        )
    )


async def _claim_one_by_one(queue: Any, policy: TenantPolicy, count: int) -> list[str | None]:
    order: list[str | None] = []
    for _ in range(count):
        [claimed] = await _claim(queue, policy, 1)
        order.extend(_tenants([claimed]))
    return order


async def _complete(queue: Any, claimed: ClaimedJob) -> None:
    assert await queue.complete(LeaseRef(claimed.job.id, claimed.token), "null")


class TenancyBehaviours:
    # 40. concurrent (active) limit ------------------------------------------------------------------------

    async def test_a_tenant_never_has_more_active_jobs_than_its_limit(self, queue: Any) -> None:
        policy = TenantPolicy(max_active=2)
        await queue.add_bulk(_jobs("acme", 5))
        first = await _claim(queue, policy, 10)
        assert _tenants(first) == ["acme", "acme"]
        assert await _claim(queue, policy, 10, block_ms=150) == []
        await _complete(queue, first[0])
        again = await _claim(queue, policy, 10)
        assert _tenants(again) == ["acme"]
        assert (await queue.get_stats()).waiting == 2

    async def test_waiting_jobs_of_a_queue_serving_tenants_are_all_listed_most_urgent_then_oldest_first(
        self, queue: Any
    ) -> None:
        policy = TenantPolicy(max_active=1)
        acme = await queue.add_bulk(_jobs("acme", 3))
        globex = await queue.add_bulk(_jobs("globex", 2, priority=1))
        [claimed] = await _claim(queue, policy, 1)  # the first claim with a policy sorts jobs by tenant
        listed = [job.id for job in await queue.list_jobs(JobState.WAITING)]
        expected = [job.id for job in [*globex, *acme] if job.id != claimed.job.id]
        assert listed == expected

    async def test_workers_together_keep_each_tenant_under_its_active_limit(
        self, queue: Any, other_client: Any
    ) -> None:
        policy = TenantPolicy(max_active=2)
        running: Counter[str] = Counter()
        most: Counter[str] = Counter()

        async def handler(payload: Any, ctx: Any) -> None:
            tenant = payload["t"]
            running[tenant] += 1
            most[tenant] = max(most[tenant], running[tenant])
            await asyncio.sleep(0.02)
            running[tenant] -= 1

        jobs = await queue.add_bulk(_jobs("acme", 12) + _jobs("globex", 12))
        async with (
            running_worker(queue, {ECHO: handler}, concurrency=4, tenancy=policy),
            running_worker(other_client, {ECHO: handler}, concurrency=4, tenancy=policy),
        ):
            for job in jobs:
                await wait_for_state(queue, job.id, JobState.COMPLETED, timeout_s=20)
        assert most == Counter({"acme": 2, "globex": 2})

    # 41. starts per window ----------------------------------------------------------------------------------

    async def test_a_tenant_starts_at_most_its_window_limit_per_window(self, queue: Any) -> None:
        policy = TenantPolicy(max_starts=2, window_ms=400)
        await queue.add_bulk(_jobs("acme", 4) + _jobs("globex", 1))
        first = await _claim(queue, policy, 10)
        assert Counter(_tenants(first)) == Counter({"acme": 2, "globex": 1})
        later = await _claim(queue, policy, 10, block_ms=3000)  # waits for acme's next window
        assert _tenants(later) == ["acme", "acme"]
        first_window = {c.job.processed_on // 400 for c in first if c.job.processed_on is not None}
        later_window = {c.job.processed_on // 400 for c in later if c.job.processed_on is not None}
        assert len(later_window) == 1 and min(later_window) > max(first_window)

    # 42. a limited tenant holds back no other tenant ----------------------------------------------------------

    async def test_a_tenant_at_its_limit_does_not_hold_back_another_tenants_jobs(self, queue: Any) -> None:
        policy = TenantPolicy(max_active=1, max_starts=5, window_ms=60_000)
        await queue.add_bulk(_jobs("acme", 50))
        late = await queue.add(ECHO, {"t": "globex"}, metadata=JobMetadata(tenant_id="globex"))
        claimed = await _claim(queue, policy, 10)
        assert Counter(_tenants(claimed)) == Counter({"acme": 1, "globex": 1})
        assert late.id in {c.job.id for c in claimed}

    # 43. limited jobs wait, and run later ---------------------------------------------------------------------

    async def test_jobs_of_a_tenant_at_its_limit_wait_and_run_once_it_is_under_it(self, queue: Any) -> None:
        policy = TenantPolicy(max_active=1)
        jobs = await queue.add_bulk(_jobs("acme", 3))
        [first] = await _claim(queue, policy, 10)
        for job in jobs:
            if job.id != first.job.id:
                stored = await queue.get_job(job.id)
                assert stored is not None and stored.state is JobState.WAITING
        await _complete(queue, first)
        async with running_worker(queue, {ECHO: _nothing}, concurrency=3, tenancy=policy):
            for job in jobs:
                done = await wait_for_state(queue, job.id, JobState.COMPLETED)
                assert done.failed_reason is None and done.attempts_started == 1

    async def test_jobs_without_a_tenant_share_one_bucket_that_is_never_limited(self, queue: Any) -> None:
        policy = TenantPolicy(max_active=1)
        await queue.add_bulk(_jobs(None, 3) + _jobs("acme", 2))
        claimed = await _claim(queue, policy, 10)
        assert Counter(_tenants(claimed)) == Counter({None: 3, "acme": 1})

    # 44. fair share ---------------------------------------------------------------------------------------

    async def test_tenants_are_served_in_turn_among_jobs_of_equal_urgency(self, queue: Any) -> None:
        policy = TenantPolicy()
        await queue.add_bulk(_jobs("acme", 4) + _jobs("globex", 3) + _jobs("initech", 1))
        order = await _claim_one_by_one(queue, policy, 8)
        assert order == ["acme", "globex", "initech", "acme", "globex", "acme", "globex", "acme"]

    async def test_fair_share_serves_urgent_jobs_first_and_fifo_within_a_tenant(self, queue: Any) -> None:
        policy = TenantPolicy()
        await queue.add_bulk(_jobs("acme", 3, priority=5) + _jobs("globex", 1, priority=5))
        urgent = await queue.add(ECHO, {"t": "acme"}, JobOptions(priority=1), JobMetadata(tenant_id="acme"))
        claimed = [c for _ in range(5) for c in await _claim(queue, policy, 1)]
        assert claimed[0].job.id == urgent.id
        assert _tenants(claimed[1:]) == ["globex", "acme", "acme", "acme"]  # acme's turn was the urgent job
        acme = [c.job.data["i"] for c in claimed[1:] if c.job.metadata.tenant_id == "acme"]
        assert acme == [0, 1, 2]

    async def test_a_weighted_tenant_gets_that_many_jobs_per_turn(self, queue: Any) -> None:
        policy = TenantPolicy(weights=(("acme", 3),))
        await queue.add_bulk(_jobs("acme", 6) + _jobs("globex", 3))
        order = await _claim_one_by_one(queue, policy, 9)
        assert order == ["acme"] * 3 + ["globex"] + ["acme"] * 3 + ["globex"] * 2

    # 45. a burst of one tenant delays another by at most one turn -----------------------------------------------

    async def test_a_burst_of_one_tenant_delays_another_tenants_new_job_by_at_most_one_turn(
        self, queue: Any
    ) -> None:
        policy = TenantPolicy()
        await queue.add_bulk(_jobs("bulk-importer", BURST))
        before = await _claim(queue, policy, 3)  # the burst is being served
        assert _tenants(before) == ["bulk-importer"] * 3
        late = await queue.add(ECHO, {"t": "acme"}, metadata=JobMetadata(tenant_id="acme"))
        next_two = await _claim_one_by_one(queue, policy, 2)
        assert "acme" in next_two  # bound: one job of each other tenant with work ahead of it (ADR 0021)
        stored = await queue.get_job(late.id)
        assert stored is not None and stored.state is JobState.ACTIVE
        assert (await queue.get_stats()).waiting == BURST - 4


async def _nothing(payload: Any, ctx: Any) -> None:
    return None
