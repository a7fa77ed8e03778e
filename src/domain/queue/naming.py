"""Naming rules: job names are semantic and versioned, queue names are kebab-case (seed 002)."""

from __future__ import annotations

import re

from domain.queue.errors import InvalidJobNameError, InvalidOptionError

# ``transaction.settlement.v1``, ``notification.email.send.v2``: at least two lowercase
# dot-separated segments followed by a ``vN`` version segment. Both patterns are applied with
# ``fullmatch`` (``$`` would accept a trailing newline).
JOB_NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\.v[1-9][0-9]*")
JOB_NAME_RULE = "must look like 'domain.action.v1': lowercase dot-separated segments ending in a version vN"
MAX_JOB_NAME_LENGTH = 200

QUEUE_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
QUEUE_NAME_RULE = "must be kebab-case: lowercase letters, digits and '-', 1..100 characters"


def validate_job_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidJobNameError("name", "must be a string", detail=f"got {type(name).__name__}")
    if len(name) > MAX_JOB_NAME_LENGTH:
        raise InvalidJobNameError("name", f"must be at most {MAX_JOB_NAME_LENGTH} characters")
    if not JOB_NAME_PATTERN.fullmatch(name):
        raise InvalidJobNameError("name", JOB_NAME_RULE, detail=f"got {name!r}")
    return name


def is_valid_job_name(name: object) -> bool:
    try:
        validate_job_name(name)
    except InvalidJobNameError:
        return False
    return True


def validate_queue_name(name: object) -> str:
    if not isinstance(name, str) or not QUEUE_NAME_PATTERN.fullmatch(name):
        raise InvalidOptionError("queue", QUEUE_NAME_RULE, detail=f"got {name!r}")
    return name


def dead_letter_queue_name(queue: str) -> str:
    """The seeds' name for a queue's dead-letter set."""
    return f"{queue}-dlq"
