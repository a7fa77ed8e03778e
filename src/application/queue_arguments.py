"""The argument rules of the operator calls, written once for every adapter.

``clean``, ``list_dead_letters`` and ``purge_dead_letters`` refuse the same bad arguments on every
broker, before anything is sent to it: the memory adapter through the reference state machine,
the replicated queues before an event is appended to the log, the Redis adapter before a script
runs. Each raises ``InvalidOptionError`` naming the argument and the rule.
"""

from __future__ import annotations

from domain.queue.errors import InvalidOptionError
from domain.queue.job import JobState

CLEANABLE_STATES = (JobState.COMPLETED, JobState.FAILED)


def clean_arguments(grace_ms: int, state: JobState | str, limit: int) -> JobState:
    """``clean(grace_ms, state, limit)``: a finished state, non-negative grace and limit."""
    try:
        finished = JobState(state)
    except ValueError:
        finished = None
    if finished not in CLEANABLE_STATES:
        raise InvalidOptionError("state", "must be 'completed' or 'failed'", detail=f"got {state!r}")
    _not_negative("grace_ms", grace_ms)
    _not_negative("limit", limit)
    return JobState(state)


def page_arguments(limit: int, offset: int) -> None:
    """``list_dead_letters(limit, offset)``: both non-negative."""
    _not_negative("limit", limit)
    _not_negative("offset", offset)


def purge_arguments(older_than_ms: int) -> None:
    """``purge_dead_letters(older_than_ms)``: a non-negative age."""
    _not_negative("older_than_ms", older_than_ms)


def _not_negative(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidOptionError(name, "must be an integer >= 0", detail=f"got {value!r}")
