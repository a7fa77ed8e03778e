"""The argument rules of the operator calls, written once for every adapter.

``clean``, ``list_dead_letters``, ``purge_dead_letters`` and ``hand_back`` refuse the same bad
arguments on every broker, before anything is sent to it: the memory adapter through the reference
state machine, the replicated queues before an event is appended to the log, the Redis adapter
before a script runs. Each raises ``InvalidOptionError`` naming the argument and the rule.
"""

from __future__ import annotations

from domain.queue.errors import InvalidOptionError
from domain.queue.job import JobState

CLEANABLE_STATES = (JobState.COMPLETED, JobState.FAILED)
LISTABLE_STATES = (JobState.WAITING, JobState.DELAYED, JobState.ACTIVE, JobState.COMPLETED, JobState.FAILED)
MAX_LOG_LINE_CHARS = 2000  # a longer ctx.log line is cut to this many characters, ending in "..."


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


def list_arguments(state: JobState | str, limit: int, offset: int) -> JobState:
    """``list_jobs(state, limit, offset)``: one of the five stored states, non-negative page."""
    try:
        listed = JobState(state)
    except ValueError:
        listed = None
    if listed not in LISTABLE_STATES:
        names = ", ".join(repr(s.value) for s in LISTABLE_STATES)
        raise InvalidOptionError("state", f"must be one of {names}", detail=f"got {state!r}")
    page_arguments(limit, offset)
    return JobState(state)


def log_line(text: str) -> str:
    """``ctx.log(text)``: a string, cut to ``MAX_LOG_LINE_CHARS`` characters; a lone surrogate
    (not encodable as UTF-8, so not storable on every broker) becomes ``?``."""
    if not isinstance(text, str):
        raise InvalidOptionError("text", "must be a string", detail=f"got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    if len(text) > MAX_LOG_LINE_CHARS:
        return text[: MAX_LOG_LINE_CHARS - 3] + "..."
    return text


def purge_arguments(older_than_ms: int) -> None:
    """``purge_dead_letters(older_than_ms)``: a non-negative age."""
    _not_negative("older_than_ms", older_than_ms)


def hand_back_arguments(delay_ms: int) -> None:
    """``hand_back(lease, delay_ms)``: a non-negative delay."""
    _not_negative("delay_ms", delay_ms)


def _not_negative(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidOptionError(name, "must be an integer >= 0", detail=f"got {value!r}")
