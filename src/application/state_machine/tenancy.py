"""Fair share between tenants and per-tenant limits inside ``QueueStateMachine`` (ADR 0021).

Data structure: each tenant (bucket) keeps its own waiting heap ``(priority, seq, id)``; a ring
heap ``(head priority, turn, bucket)`` holds every bucket that has waiting work and is not parked.
A claim takes the ring's head (the best priority, then the oldest turn), starts that bucket's head
job and gives the bucket a new turn at the back of the ring once it has had ``weight`` jobs in a
row. A bucket at its active limit is parked until one of its jobs leaves ``active``; one at its
window limit is parked until its window ends. Every step is O(log n); stale heap entries (removed,
re-queued jobs) are skipped lazily, as in the machine's other heaps.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from application.state_machine.records import JobRecord
from domain.queue.job import JobState
from domain.queue.tenancy import TenantPolicy

NO_TENANT = ""  # the bucket of jobs without metadata.tenant_id (tenant ids are never empty)
PARKED_ACTIVE = "active"
PARKED_WINDOW = "window"


@dataclass(slots=True)
class TenantBucket:
    waiting: list[tuple[int, int, str]] = field(default_factory=list)  # (priority, seq, id)
    active: int = 0
    window: int = -1  # the fixed window (now // window_ms) ``started`` counts in
    started: int = 0
    served: int = 0  # jobs started in the current turn (a turn lasts ``weight`` jobs)
    ring_key: tuple[int, int] | None = None  # (head priority, turn) of its live ring entry
    parked: str | None = None  # PARKED_ACTIVE / PARKED_WINDOW, or None
    parked_until: int | None = None  # PARKED_WINDOW: the end of the window it waits for


@dataclass(slots=True)
class TenantIndex:
    buckets: dict[str, TenantBucket] = field(default_factory=dict)
    ring: list[tuple[int, int, str]] = field(default_factory=list)  # (head priority, turn, bucket)
    turn: int = 0
    parked_until: list[tuple[int, str]] = field(default_factory=list)  # (window end, bucket)

    def bucket(self, name: str) -> TenantBucket:
        bucket = self.buckets.get(name)
        if bucket is None:
            bucket = self.buckets[name] = TenantBucket()
        return bucket

    def push(self, record: JobRecord) -> None:
        """``record`` became waiting: into its bucket, and the bucket into the ring if it is idle."""
        name = bucket_of(record)
        bucket = self.bucket(name)
        priority = record.options.priority
        heapq.heappush(bucket.waiting, (priority, record.seq, record.id))
        if bucket.parked is None:
            self.enter(name, bucket, priority)

    def enter(self, name: str, bucket: TenantBucket, priority: int) -> None:
        """Put ``bucket`` in the ring (at the back), or move its entry up to a better ``priority``."""
        key = bucket.ring_key
        if key is None:
            self.turn += 1
            key = (priority, self.turn)
            bucket.served = 0
        elif priority < key[0]:
            key = (priority, key[1])
        else:
            return
        bucket.ring_key = key
        heapq.heappush(self.ring, (key[0], key[1], name))

    def leave_ring(self, bucket: TenantBucket) -> None:
        bucket.ring_key = None  # its heap entry goes stale

    def park(self, name: str, bucket: TenantBucket, reason: str, until: int | None = None) -> None:
        self.leave_ring(bucket)
        bucket.parked = reason
        bucket.parked_until = until
        if until is not None:
            heapq.heappush(self.parked_until, (until, name))

    def unpark(self, name: str, bucket: TenantBucket, jobs: dict[str, JobRecord]) -> None:
        bucket.parked = None
        bucket.parked_until = None
        head = head_of(bucket, jobs)
        if head is not None:
            self.enter(name, bucket, head.options.priority)

    def unpark_due(self, now: int, jobs: dict[str, JobRecord]) -> None:
        parked = self.parked_until
        while parked and parked[0][0] <= now:
            until, name = heapq.heappop(parked)
            bucket = self.buckets.get(name)
            if bucket is not None and bucket.parked == PARKED_WINDOW and bucket.parked_until == until:
                self.unpark(name, bucket, jobs)

    def next_unpark(self) -> int | None:
        parked = self.parked_until
        while parked:
            until, name = parked[0]
            bucket = self.buckets.get(name)
            if bucket is not None and bucket.parked == PARKED_WINDOW and bucket.parked_until == until:
                return until
            heapq.heappop(parked)
        return None

    def ring_head(self) -> tuple[str, TenantBucket] | None:
        ring = self.ring
        while ring:
            priority, turn, name = ring[0]
            bucket = self.buckets.get(name)
            if bucket is not None and bucket.ring_key == (priority, turn):
                return name, bucket
            heapq.heappop(ring)
        return None

    def limited(self, name: str, bucket: TenantBucket, policy: TenantPolicy, now: int) -> bool:
        """Park ``bucket`` if it is at a limit of ``policy``; True then. The no-tenant bucket never is."""
        if name == NO_TENANT:
            return False
        if policy.max_active is not None and bucket.active >= policy.max_active:
            self.park(name, bucket, PARKED_ACTIVE)
            return True
        if policy.max_starts is not None and policy.window_ms is not None:
            window = now // policy.window_ms
            if bucket.window != window:
                bucket.window = window
                bucket.started = 0
            if bucket.started >= policy.max_starts:
                self.park(name, bucket, PARKED_WINDOW, (window + 1) * policy.window_ms)
                return True
        return False

    def started(
        self, name: str, bucket: TenantBucket, policy: TenantPolicy, jobs: dict[str, JobRecord]
    ) -> None:
        """One job of ``bucket`` started: count it, and move the bucket on in the ring."""
        bucket.active += 1
        bucket.started += 1
        bucket.served += 1
        key = bucket.ring_key
        head = head_of(bucket, jobs)
        if key is None or head is None:
            self.leave_ring(bucket)
            return
        if bucket.served >= policy.weight_of(name):
            self.leave_ring(bucket)  # its turn is over: to the back of the ring
            self.enter(name, bucket, head.options.priority)
        elif head.options.priority != key[0]:
            bucket.ring_key = (head.options.priority, key[1])
            heapq.heappush(self.ring, (head.options.priority, key[1], name))

    def left_active(self, record: JobRecord, jobs: dict[str, JobRecord]) -> None:
        """A job of this bucket stopped running (completed, failed, released, stalled)."""
        name = bucket_of(record)
        bucket = self.buckets.get(name)
        if bucket is None:
            return
        bucket.active = max(0, bucket.active - 1)
        if bucket.parked == PARKED_ACTIVE:
            self.unpark(name, bucket, jobs)


def bucket_of(record: JobRecord) -> str:
    tenant = record.metadata.tenant_id
    return NO_TENANT if tenant is None else tenant


def head_of(bucket: TenantBucket, jobs: dict[str, JobRecord]) -> JobRecord | None:
    """The bucket's first waiting job (stale heap heads dropped), or None."""
    waiting = bucket.waiting
    while waiting:
        _, seq, job_id = waiting[0]
        record = jobs.get(job_id)
        if record is not None and record.state is JobState.WAITING and record.seq == seq:
            return record
        heapq.heappop(waiting)
    return None
