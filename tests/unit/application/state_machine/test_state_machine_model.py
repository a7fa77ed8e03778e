"""Property: the state machine agrees with a deliberately naive model on every random sequence.

The model keeps a plain list of jobs and sorts it on every claim; the state machine uses heaps,
lazy deletion and counters. Both must show the same states, counts and claim order.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from application.queue_backend import JobDraft, LeaseRef
from application.state_machine import events as ev
from application.state_machine.machine import QueueStateMachine
from domain.queue.job import JobState
from domain.queue.metadata import JobMetadata
from domain.queue.options import JobOptions, QueueDefaults

ATTEMPTS = 2
LEASE = 50


@dataclass
class ModelJob:
    id: str
    priority: int
    order: int
    state: JobState
    due: int = 0
    attempts: int = 0
    token: str | None = None
    lease_until: int = 0


class NaiveQueue:
    def __init__(self) -> None:
        self.jobs: dict[str, ModelJob] = {}
        self.now = 0
        self.order = 0
        self.paused = False

    def advance(self, now: int) -> None:
        self.now = max(self.now, now)
        for job in sorted(self.jobs.values(), key=lambda j: (j.due, j.order)):
            if job.state is JobState.DELAYED and job.due <= self.now:
                self._requeue(job)
        for job in sorted(self.jobs.values(), key=lambda j: (j.lease_until, j.order)):
            if job.state is JobState.ACTIVE and job.lease_until < self.now:
                if job.attempts < ATTEMPTS:
                    self._requeue(job)
                else:
                    job.state = JobState.FAILED

    def _requeue(self, job: ModelJob) -> None:
        self.order += 1
        job.order = self.order
        job.state = JobState.WAITING

    def add(self, job_id: str, priority: int, delay: int) -> None:
        if job_id in self.jobs:
            return
        self.order += 1
        state = JobState.DELAYED if delay else JobState.WAITING
        self.jobs[job_id] = ModelJob(job_id, priority, self.order, state, due=self.now + delay)

    def claim(self, count: int) -> list[str]:
        if self.paused:
            return []
        waiting = sorted(
            (j for j in self.jobs.values() if j.state is JobState.WAITING),
            key=lambda j: (j.priority, j.order),
        )
        chosen = waiting[:count]
        for job in chosen:
            job.state = JobState.ACTIVE
            job.attempts += 1
            job.lease_until = self.now + LEASE
        return [job.id for job in chosen]

    def finish(self, job_id: str, ok: bool) -> None:
        job = self.jobs[job_id]
        if ok:
            job.state = JobState.COMPLETED
        elif job.attempts < ATTEMPTS:
            self._requeue(job)
        else:
            job.state = JobState.FAILED

    def counts(self) -> dict[JobState, int]:
        result = dict.fromkeys(JobState, 0)
        for job in self.jobs.values():
            result[job.state] += 1
        return result


class QueueAgreesWithModel(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.machine = QueueStateMachine(queue="prop")
        self.model = NaiveQueue()
        self.now = 1000
        self.tokens: dict[str, str] = {}

    def _draft(self, job_id: str, priority: int, delay: int) -> JobDraft:
        options = JobOptions(priority=priority, delay=delay, attempts=ATTEMPTS, remove_on_complete=False)
        resolved = options.resolve(QueueDefaults(remove_on_fail=False))
        return JobDraft(job_id, "prop.job.v1", "{}", resolved, JobMetadata(), self.now)

    @rule(
        job_id=st.sampled_from([f"j{i}" for i in range(12)]),
        priority=st.integers(1, 10),
        delay=st.sampled_from([0, 0, 0, 20, 70]),
    )
    def add(self, job_id: str, priority: int, delay: int) -> None:
        self.machine.apply(ev.Add((self._draft(job_id, priority, delay),), self.now))
        self.model.advance(self.now)
        self.model.add(job_id, priority, delay)

    @rule(count=st.integers(1, 4))
    def claim(self, count: int) -> None:
        outcome = self.machine.apply(ev.Claim("w", count, LEASE, self.now))
        self.model.advance(self.now)
        assert [c.job.id for c in outcome.jobs] == self.model.claim(count)
        for claimed in outcome.jobs:
            self.tokens[claimed.job.id] = claimed.token

    @precondition(lambda self: any(j.state is JobState.ACTIVE for j in self.model.jobs.values()))
    @rule(data=st.data(), ok=st.booleans())
    def finish(self, data: st.DataObject, ok: bool) -> None:
        self.model.advance(self.now)
        self.machine.apply(ev.Tick(self.now))
        active = sorted(j.id for j in self.model.jobs.values() if j.state is JobState.ACTIVE)
        if not active:
            return
        job_id = data.draw(st.sampled_from(active))
        lease = LeaseRef(job_id, self.tokens[job_id])
        if ok:
            assert self.machine.apply(ev.Complete(lease, "null", self.now)) is True
        else:
            assert self.machine.apply(ev.Fail(lease, "x", None, 0, self.now)).accepted
        self.model.finish(job_id, ok)

    @rule(job_id=st.sampled_from([f"j{i}" for i in range(12)]))
    def remove(self, job_id: str) -> None:
        removed = self.machine.apply(ev.Remove(job_id, self.now))
        self.model.advance(self.now)
        job = self.model.jobs.get(job_id)
        expected = job is not None and job.state is not JobState.ACTIVE
        assert removed is expected
        if expected:
            del self.model.jobs[job_id]

    @rule(paused=st.booleans())
    def pause_or_resume(self, paused: bool) -> None:
        self.machine.apply(ev.Pause(self.now) if paused else ev.Resume(self.now))
        self.model.advance(self.now)
        self.model.paused = paused

    @rule(ms=st.sampled_from([1, 10, 30, 60]))
    def time_passes(self, ms: int) -> None:
        self.now += ms
        self.machine.apply(ev.Tick(self.now))
        self.model.advance(self.now)

    @invariant()
    def same_counts_and_states(self) -> None:
        stats = self.machine.stats()
        counts = self.model.counts()
        assert (stats.waiting, stats.delayed, stats.active, stats.completed, stats.failed) == (
            counts[JobState.WAITING],
            counts[JobState.DELAYED],
            counts[JobState.ACTIVE],
            counts[JobState.COMPLETED],
            counts[JobState.FAILED],
        )
        for job_id, job in self.model.jobs.items():
            seen = self.machine.get(job_id)
            assert seen is not None and seen.state is job.state and seen.attempts_started == job.attempts


QueueAgreesWithModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestQueueAgreesWithModel = QueueAgreesWithModel.TestCase
