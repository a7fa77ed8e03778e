"""OpenTelemetry traces as a hook (ADR 0016, ADR 0025): a producer span per ``add``/``add_bulk``
and a consumer span per attempt, joined through W3C trace context carried in the job's
``metadata.headers``.

- ``before_add`` opens a ``PRODUCER`` span ``send <queue>`` (a child of whatever span is current,
  e.g. the handler's attempt when a handler enqueues a follow-up job) and injects its context
  (``traceparent``, ``tracestate``) into every entry's metadata headers; ``after_add`` names the
  stored job id (single adds) and ends it, recording a refused add's error.
- ``on_started`` extracts that context and opens a ``CONSUMER`` span ``process <queue>`` as its
  **child** (same trace), so one trace holds the add and every attempt of the job, retries
  included (siblings under the producer span). The span is made current for the handler, so spans
  the handler opens (an HTTP client, a follow-up ``add``) nest under the attempt. Each end event
  sets the outcome, records the handler's error and ends the span.

Attribute names follow the OpenTelemetry messaging semantic conventions where one exists
(``messaging.system``, ``messaging.destination.name``, ``messaging.operation.type``/``.name``,
``messaging.message.id``, ``messaging.message.conversation_id`` for the correlation id,
``messaging.batch.message_count``, ``error.type``); ours are ``backbone.job.name``,
``backbone.job.attempt``, ``backbone.job.outcome``, ``backbone.worker.id``. Needs the ``otel``
extra. The spans go to the global tracer provider unless one is given.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider

from application.hooks import Adding, Attempt, Hook
from application.worker.retry_policy import failure_category
from domain.queue.job import NewJob
from domain.queue.metadata import JobMetadata

INSTRUMENTATION_NAME = "messaging-backbone"
MESSAGING_SYSTEM = "backbone"

# OpenTelemetry messaging semantic conventions
SYSTEM = "messaging.system"
DESTINATION = "messaging.destination.name"
OPERATION_TYPE = "messaging.operation.type"
OPERATION_NAME = "messaging.operation.name"
MESSAGE_ID = "messaging.message.id"
CONVERSATION_ID = "messaging.message.conversation_id"
BATCH_COUNT = "messaging.batch.message_count"
ERROR_TYPE = "error.type"
# ours (no convention exists for them)
JOB_NAME = "backbone.job.name"
ATTEMPT = "backbone.job.attempt"
OUTCOME = "backbone.job.outcome"
WORKER_ID = "backbone.worker.id"
FAILURE_CATEGORY = "backbone.job.failure_category"

COMPLETED, RETRY_SCHEDULED, DEAD_LETTERED, LEASE_LOST = (
    "completed",
    "retry_scheduled",
    "dead_lettered",
    "lease_lost",
)


@dataclasses.dataclass(slots=True)
class _Running:
    """An attempt's span, and the token that made it current in the handler's task."""

    span: Span
    token: object | None
    task: asyncio.Task[Any] | None


class TracingHook(Hook):
    """Producer and consumer spans from ``tracer_provider`` (the global one when not given)."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self.tracer = trace.get_tracer(INSTRUMENTATION_NAME, tracer_provider=tracer_provider)

    # --- producer -------------------------------------------------------------------------------------

    def before_add(self, adding: Adding) -> None:
        attributes: dict[str, Any] = {
            SYSTEM: MESSAGING_SYSTEM,
            DESTINATION: adding.queue,
            OPERATION_TYPE: "send",
            OPERATION_NAME: "send",
        }
        if adding.bulk:
            attributes[BATCH_COUNT] = len(adding.entries)
        elif adding.entries:
            attributes[JOB_NAME] = adding.entries[0].name
        span = self.tracer.start_span(f"send {adding.queue}", kind=SpanKind.PRODUCER, attributes=attributes)
        adding.state[self] = span
        carrier: dict[str, str] = {}
        inject(carrier, context=trace.set_span_in_context(span))
        if carrier:
            adding.entries[:] = [_with_headers(entry, carrier) for entry in adding.entries]

    def after_add(self, adding: Adding) -> None:
        span: Span | None = adding.state.get(self)
        if span is None:
            return
        if adding.error is not None:
            _record_error(span, adding.error)
        elif adding.jobs and not adding.bulk:
            job = adding.jobs[0]
            span.set_attribute(MESSAGE_ID, job.id)
            if job.metadata.correlation_id:
                span.set_attribute(CONVERSATION_ID, job.metadata.correlation_id)
        span.end()

    # --- worker ---------------------------------------------------------------------------------------

    def on_started(self, attempt: Attempt) -> None:
        job = attempt.job
        parent = extract(job.metadata.headers) if job.metadata.headers else None
        attributes: dict[str, Any] = {
            SYSTEM: MESSAGING_SYSTEM,
            DESTINATION: job.queue,
            OPERATION_TYPE: "process",
            OPERATION_NAME: "process",
            MESSAGE_ID: job.id,
            JOB_NAME: job.name,
            ATTEMPT: attempt.number,
            WORKER_ID: attempt.worker_id,
        }
        if job.metadata.correlation_id:
            attributes[CONVERSATION_ID] = job.metadata.correlation_id
        span = self.tracer.start_span(
            f"process {job.queue}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
        )
        # current for the handler, which runs next in this same task
        token = otel_context.attach(trace.set_span_in_context(span))
        attempt.state[self] = _Running(span, token, _current_task())

    def _end(self, attempt: Attempt, outcome: str, *, failed: bool) -> None:
        running: _Running | None = attempt.state.pop(self, None)
        if running is None:  # never started (a hand-back) or already ended
            return
        span = running.span
        span.set_attribute(OUTCOME, outcome)
        error = attempt.error
        if error is not None:
            span.set_attribute(FAILURE_CATEGORY, failure_category(error))
            _record_error(span, error)
        elif failed:
            span.set_status(Status(StatusCode.ERROR, attempt.reason or outcome))
        span.end()
        # detached only in the task that attached it (a lost lease is noticed by the renewal task)
        if running.token is not None and running.task is _current_task():
            otel_context.detach(running.token)  # type: ignore[arg-type]

    def on_completed(self, attempt: Attempt) -> None:
        self._end(attempt, COMPLETED, failed=False)

    def on_retry_scheduled(self, attempt: Attempt) -> None:
        self._end(attempt, RETRY_SCHEDULED, failed=True)

    def on_dead_lettered(self, attempt: Attempt) -> None:
        self._end(attempt, DEAD_LETTERED, failed=True)

    def on_lease_lost(self, attempt: Attempt) -> None:
        self._end(attempt, LEASE_LOST, failed=True)


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop
        return None


def _record_error(span: Span, error: BaseException) -> None:
    span.record_exception(error)
    span.set_attribute(ERROR_TYPE, type(error).__qualname__)
    span.set_status(Status(StatusCode.ERROR, str(error) or type(error).__name__))


def _with_headers(entry: NewJob, carrier: dict[str, str]) -> NewJob:
    """``entry`` with the trace context in its metadata headers (input that is not a
    ``JobMetadata`` is left as it is: the factory refuses it, naming the field)."""
    metadata = entry.metadata
    if metadata is None:
        metadata = JobMetadata(headers=dict(carrier))
    elif isinstance(metadata, JobMetadata) and isinstance(metadata.headers, dict):
        metadata = dataclasses.replace(metadata, headers={**metadata.headers, **carrier})
    else:
        return entry
    return dataclasses.replace(entry, metadata=metadata)
