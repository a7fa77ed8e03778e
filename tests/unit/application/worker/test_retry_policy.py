"""Backoff and the retry decision, taken once for every adapter."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.worker.retry_policy import backoff_delay, retry_delay
from domain.queue.errors import InvalidPayloadError, PermanentError, RetryableError
from domain.queue.job import Job, JobState
from domain.queue.metadata import JobMetadata
from domain.queue.options import Backoff, BackoffType, JobOptions, QueueDefaults

NO_JITTER = random.Random(0)


def job_at_attempt(attempt: int, attempts: int = 5, backoff: Backoff | None = None) -> Job:
    options = JobOptions(attempts=attempts, backoff=backoff).resolve(QueueDefaults())
    return Job("j", "q", "a.b.v1", {}, options, JobMetadata(), JobState.ACTIVE, 0, attempts_started=attempt)


@pytest.mark.parametrize(("attempt", "expected"), [(1, 1000), (2, 2000), (3, 4000), (4, 8000)])
def test_exponential_backoff_doubles_per_attempt(attempt: int, expected: int) -> None:
    backoff = Backoff(BackoffType.EXPONENTIAL, delay=1000, max_delay=None, jitter=0)
    assert backoff_delay(backoff, attempt, NO_JITTER) == expected


def test_fixed_backoff_waits_the_same_each_time() -> None:
    backoff = Backoff(BackoffType.FIXED, delay=700, max_delay=None, jitter=0)
    assert [backoff_delay(backoff, n, NO_JITTER) for n in (1, 2, 5)] == [700, 700, 700]


def test_backoff_is_capped_at_max_delay() -> None:
    backoff = Backoff(BackoffType.EXPONENTIAL, delay=1000, max_delay=5000, jitter=0)
    assert backoff_delay(backoff, 10, NO_JITTER) == 5000


@given(attempt=st.integers(1, 30), jitter=st.floats(0, 1), seed=st.integers(0, 2**32))
def test_jittered_backoff_stays_within_its_band_and_cap(attempt: int, jitter: float, seed: int) -> None:
    backoff = Backoff(BackoffType.EXPONENTIAL, delay=2000, max_delay=15 * 60 * 1000, jitter=jitter)
    base = min(2000 * 2 ** (attempt - 1), 15 * 60 * 1000)
    delay = backoff_delay(backoff, attempt, random.Random(seed))
    assert 0 <= delay <= 15 * 60 * 1000
    assert base * (1 - jitter) - 1 <= delay <= base * (1 + jitter) + 1


def test_default_jitter_is_plus_or_minus_25_percent() -> None:
    assert Backoff().jitter == 0.25


def test_permanent_errors_and_bad_payloads_are_never_retried() -> None:
    job = job_at_attempt(1)
    assert retry_delay(job, PermanentError("no"), NO_JITTER) is None
    assert retry_delay(job, InvalidPayloadError("data", "must match"), NO_JITTER) is None


def test_no_retry_once_every_attempt_has_started() -> None:
    assert retry_delay(job_at_attempt(5, attempts=5), RuntimeError("x"), NO_JITTER) is None


def test_retryable_error_can_name_its_own_delay() -> None:
    assert retry_delay(job_at_attempt(1), RetryableError("429", retry_delay_ms=1234), NO_JITTER) == 1234


def test_any_other_error_retries_after_the_backoff() -> None:
    backoff = Backoff(BackoffType.FIXED, delay=300, jitter=0)
    assert retry_delay(job_at_attempt(2, backoff=backoff), ValueError("x"), NO_JITTER) == 300
