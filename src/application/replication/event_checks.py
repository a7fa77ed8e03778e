"""What a process may append: only events every replica decodes back to exactly the same event.

A process applies its own events from the objects it encoded them from (no decoding: the fast
path of ADR 0011), every other process from the decoded bytes. The two are equal by construction
when the encoded values have exactly the types and ranges the strict decoders accept, and the
free-form values (business context, progress data) are plain JSON values (a tuple would come back
as a list, a key ``1`` as ``"1"``). ``check_event`` refuses anything else with an
``InvalidOptionError`` naming the field, before anything is appended: what the adding process
applies is what every process applies (ADR 0012). The checks are type tests, not a decode; free-
form values are walked only when not empty. Job data and return values travel as JSON text that
the state machine itself checks in every replica (``stored_json``), so they need no check here.

``tests/unit/application/replication/test_event_checks.py`` pins the rule: every event it lets
through decodes to an equal event.
"""

from __future__ import annotations

from typing import Any

from application.queue_backend import JobDraft, LeaseRef
from application.replication import value_codec as vc
from application.state_machine import events as ev
from application.state_machine.stored_json import MAX_JSON_DEPTH
from domain.queue.errors import InvalidOptionError
from domain.queue.job import DeadLetterFilter, JobProgress, JobState
from domain.queue.metadata import JobMetadata, UserRef
from domain.queue.options import RateLimit
from domain.queue.tenancy import TenantPolicy


def _refuse(field: str, rule: str, value: Any) -> None:
    raise InvalidOptionError(field, rule, detail=f"got {type(value).__name__}")


def _int(value: Any, field: str, minimum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        _refuse(field, "must be an integer", value)
    if minimum is not None and value < minimum:
        raise InvalidOptionError(field, f"must be >= {minimum}", detail=f"got {value}")


def _opt_int(value: Any, field: str, minimum: int | None = None) -> None:
    if value is not None:
        _int(value, field, minimum)


def _str(value: Any, field: str) -> None:
    if not isinstance(value, str):
        _refuse(field, "must be a string", value)


def _opt_str(value: Any, field: str) -> None:
    if value is not None and not isinstance(value, str):
        _refuse(field, "must be a string or None", value)


def _number(value: Any, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _refuse(field, "must be a number", value)


def check_json_value(value: Any, field: str) -> None:
    """A plain JSON value: dicts with string keys, lists, strings, numbers, booleans, None."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if item is None or isinstance(item, str | bool | int | float):
            continue
        if depth > MAX_JSON_DEPTH:
            raise InvalidOptionError(field, f"must nest at most {MAX_JSON_DEPTH} levels")
        if type(item) is dict:
            for key, child in item.items():
                if not isinstance(key, str):
                    _refuse(field, "must have string keys", key)
                stack.append((child, depth + 1))
        elif type(item) is list:
            stack.extend((child, depth + 1) for child in item)
        else:
            _refuse(field, "must hold only JSON values (dict, list, str, number, bool, None)", item)


def _lease(lease: Any, field: str = "lease") -> None:
    if not isinstance(lease, LeaseRef):
        _refuse(field, "must be a LeaseRef", lease)
    _str(lease.job_id, f"{field}.job_id")
    _str(lease.token, f"{field}.token")


def _leases(leases: Any) -> None:
    if not isinstance(leases, tuple):
        _refuse("leases", "must be a tuple", leases)
    for lease in leases:
        _lease(lease)


def _user(user: Any) -> None:
    if user is None:
        return
    if not isinstance(user, UserRef):
        _refuse("metadata.user", "must be a UserRef or None", user)
    _str(user.sub, "metadata.user.sub")
    _opt_str(user.tenant, "metadata.user.tenant")
    if not isinstance(user.roles, tuple) or not all(isinstance(role, str) for role in user.roles):
        _refuse("metadata.user.roles", "must be a tuple of strings", user.roles)
    _opt_str(user.display_name, "metadata.user.display_name")
    _opt_str(user.email, "metadata.user.email")


def check_metadata(metadata: Any) -> None:
    if not isinstance(metadata, JobMetadata):
        _refuse("metadata", "must be a JobMetadata", metadata)
    _opt_str(metadata.correlation_id, "metadata.correlation_id")
    _opt_str(metadata.tenant_id, "metadata.tenant_id")
    _user(metadata.user)
    _opt_str(metadata.source, "metadata.source")
    _opt_int(metadata.timestamp, "metadata.timestamp")
    context = metadata.business_context
    if type(context) is not dict:
        _refuse("metadata.business_context", "must be a dict", context)
    if context:
        check_json_value(context, "metadata.business_context")
    headers = metadata.headers
    if type(headers) is not dict or not all(
        type(key) is str and type(value) is str for key, value in headers.items()
    ):
        _refuse("metadata.headers", "must map str to str", headers)


def _draft(draft: Any) -> None:
    if not isinstance(draft, JobDraft):
        _refuse("drafts", "must hold JobDrafts", draft)
    _str(draft.id, "id")
    _str(draft.name, "name")
    _str(draft.data_json, "data")
    vc.check_options(draft.options)
    check_metadata(draft.metadata)
    _int(draft.created_at, "created_at")


def _limiter(limit: Any) -> None:
    if limit is None:
        return
    if not isinstance(limit, RateLimit):
        _refuse("limiter", "must be a RateLimit or None", limit)
    _int(limit.max, "limiter.max", 1)
    _int(limit.duration, "limiter.duration", 1)


def _tenancy(policy: Any) -> None:
    if policy is None:
        return
    if not isinstance(policy, TenantPolicy):
        _refuse("tenancy", "must be a TenantPolicy or None", policy)
    if policy.validate() != policy:
        _refuse("tenancy", "must be validated (weights sorted, one per tenant)", policy)


def _progress(progress: Any) -> None:
    if isinstance(progress, JobProgress):
        _number(progress.percentage, "progress.percentage")
        _opt_str(progress.step, "progress.step")
        _opt_int(progress.total_steps, "progress.total_steps")
        _opt_int(progress.current_step, "progress.current_step")
        if progress.data is not None:
            if type(progress.data) is not dict:
                _refuse("progress.data", "must be a dict or None", progress.data)
            check_json_value(progress.data, "progress.data")
        return
    _number(progress, "progress")


def _selection(selection: Any) -> None:
    if selection is None:
        return
    if not isinstance(selection, DeadLetterFilter):
        _refuse("selection", "must be a DeadLetterFilter or None", selection)
    _opt_str(selection.name, "selection.name")
    _opt_str(selection.reason_contains, "selection.reason_contains")
    _opt_int(selection.failed_after, "selection.failed_after")
    _opt_int(selection.failed_before, "selection.failed_before")
    ids = selection.job_ids
    if ids is not None and (
        not isinstance(ids, frozenset | set) or not all(isinstance(job_id, str) for job_id in ids)
    ):
        _refuse("selection.job_ids", "must be a set of strings or None", ids)


def check_event(event: ev.QueueEvent) -> None:
    """Raise ``InvalidOptionError`` unless ``event`` decodes back exactly from its encoding."""
    _int(event.now, "now")
    match event:
        case ev.Add():
            if not isinstance(event.drafts, tuple):
                _refuse("drafts", "must be a tuple", event.drafts)
            for draft in event.drafts:
                _draft(draft)
        case ev.Claim():
            _str(event.worker_id, "worker_id")
            _int(event.max_jobs, "max_jobs")
            _int(event.lease_ms, "lease_ms", 0)
            _limiter(event.limiter)
            _tenancy(event.tenancy)
        case ev.Extend():
            _str(event.worker_id, "worker_id")
            _leases(event.leases)
            _int(event.lease_ms, "lease_ms", 0)
        case ev.UpdateProgress():
            _lease(event.lease)
            _progress(event.progress)
        case ev.Complete():
            _lease(event.lease)
            _str(event.return_json, "return value")
        case ev.Fail():
            _lease(event.lease)
            _str(event.reason, "reason")
            _opt_str(event.stacktrace, "stacktrace")
            _opt_int(event.retry_delay_ms, "retry_delay_ms", 0)
        case ev.HandBack():
            _lease(event.lease)
            _int(event.delay_ms, "delay_ms", 0)
        case ev.Release():
            _str(event.worker_id, "worker_id")
            _leases(event.leases)
        case ev.Remove() | ev.Reprocess():
            _str(event.job_id, "job_id")
        case ev.ReplaceData():
            _str(event.job_id, "job_id")
            _str(event.expected_json, "expected_json")
            _str(event.data_json, "data_json")
        case ev.Clean():
            _int(event.grace_ms, "grace_ms")
            _int(event.limit, "limit")
            if not isinstance(event.state, JobState):
                _refuse("state", "must be a JobState", event.state)
        case ev.ReprocessAll():
            _selection(event.selection)
        case ev.PurgeDeadLetters():
            _int(event.older_than_ms, "older_than_ms")
        case ev.RecordMalformed():
            _str(event.job_id, "job_id")
            if not isinstance(event.raw, bytes):
                _refuse("raw", "must be bytes", event.raw)
            _str(event.reason, "reason")
        case ev.AppendLog():
            _lease(event.lease)
            _str(event.text, "text")
            _int(event.keep, "keep", 0)
        case ev.PutSchedule():
            _str(event.name, "schedule.name")
            _opt_str(event.definition, "schedule")
        case ev.Pause() | ev.Resume() | ev.Drain() | ev.Tick():
            pass
        case _:
            raise TypeError(f"not a queue event: {type(event).__name__}")
