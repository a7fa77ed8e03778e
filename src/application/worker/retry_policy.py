"""The retry decision, taken once here for every adapter: retry after a delay, or dead-letter."""

from __future__ import annotations

import random

from domain.queue.errors import InvalidJobError, JobFailure, PermanentError, RetryableError
from domain.queue.job import Job
from domain.queue.options import Backoff, BackoffType


def backoff_delay(backoff: Backoff, attempt: int, rng: random.Random) -> int:
    """Wait before the attempt after ``attempt`` (1-based): fixed, or ``delay * 2**(attempt-1)``.

    The cap applies after jitter, so no wait ever exceeds ``max_delay``.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    if backoff.type is BackoffType.FIXED:
        base = float(backoff.delay)
    else:
        base = float(backoff.delay) * (2 ** min(attempt - 1, 62))
    if backoff.jitter:
        base *= 1.0 + rng.uniform(-backoff.jitter, backoff.jitter)
    if backoff.max_delay is not None:
        base = min(base, float(backoff.max_delay))
    return max(0, round(base))


def is_permanent(error: BaseException) -> bool:
    return isinstance(error, PermanentError | InvalidJobError)


def retry_delay(job: Job, error: BaseException, rng: random.Random) -> int | None:
    """Milliseconds until the next attempt, or None to dead-letter the job now."""
    if is_permanent(error):
        return None
    if job.attempts_started >= job.options.attempts:
        return None
    if isinstance(error, RetryableError) and error.retry_delay_ms is not None:
        return error.retry_delay_ms
    return backoff_delay(job.options.backoff, job.attempts_started, rng)


def failure_category(error: BaseException) -> str:
    if is_permanent(error):
        return "permanent"
    if isinstance(error, JobFailure):
        return "retryable"
    return "error"
