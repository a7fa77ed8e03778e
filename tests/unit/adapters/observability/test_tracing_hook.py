"""The tracing hook on memory:// (ADR 0025): what it puts in the job and what it records when an add is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from tests.integration.observability.traced_module import FOLLOW_UP, JOB, MODULE, QUEUE, Flaky, FollowUp

from adapters.observability.tracing import TracingHook
from backbone import Backbone, InvalidJobError, JobMetadata, NewJob
from bootstrap.settings import SettingsError
from bootstrap.tracing_setup import _exporters


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


@pytest.fixture
def hook(exporter: InMemorySpanExporter) -> Iterator[TracingHook]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield TracingHook(provider)
    provider.shutdown()


async def test_an_added_job_carries_the_w3c_context_of_its_producer_span_beside_its_own_headers(
    hook: TracingHook, exporter: InMemorySpanExporter
) -> None:
    async with Backbone.open("memory://", modules=[MODULE], hooks=[hook]) as app:
        job = await app.queue(QUEUE).add(JOB, Flaky(), metadata=JobMetadata(headers={"x-team": "payments"}))
    [span] = exporter.get_finished_spans()
    assert span.context is not None
    traceparent = (
        f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-{span.context.trace_flags:02x}"
    )
    assert job.metadata.headers == {"x-team": "payments", "traceparent": traceparent}
    assert (span.kind, span.name) == (SpanKind.PRODUCER, f"send {QUEUE}")


async def test_a_bulk_add_is_one_producer_span_whose_context_every_job_carries(
    hook: TracingHook, exporter: InMemorySpanExporter
) -> None:
    async with Backbone.open("memory://", modules=[MODULE], hooks=[hook]) as app:
        jobs = await app.queue(QUEUE).add_bulk([NewJob(JOB, Flaky()) for _ in range(3)])
    [span] = exporter.get_finished_spans()
    assert span.attributes is not None and span.attributes["messaging.batch.message_count"] == 3
    assert len({job.metadata.headers["traceparent"] for job in jobs}) == 1


async def test_a_refused_add_ends_its_producer_span_with_the_error_and_stores_nothing(
    hook: TracingHook, exporter: InMemorySpanExporter
) -> None:
    async with Backbone.open("memory://", modules=[MODULE], hooks=[hook]) as app:
        with pytest.raises(InvalidJobError):
            await app.queue(QUEUE).add(JOB, {"fail_times": "many"})
        stats = await app.queue(QUEUE).get_stats()
    [span] = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]
    assert stats.waiting == 0


def test_no_exporter_is_made_for_none_and_an_unknown_exporter_name_is_refused_naming_the_variable() -> None:
    assert _exporters("none") == []
    with pytest.raises(
        SettingsError,
        match=r"OTEL_TRACES_EXPORTER: no exporter named 'bogus' is installed \(known: .*console",
    ):
        _exporters("bogus")


async def test_a_job_a_handler_adds_is_traced_under_the_attempt_that_added_it(
    hook: TracingHook, exporter: InMemorySpanExporter
) -> None:
    async with Backbone.open("memory://", modules=[MODULE], hooks=[hook], worker={"block_ms": 20}) as app:
        await app.queue(QUEUE).add(FOLLOW_UP, FollowUp())
        async with app.workers(QUEUE):
            await app.wait_until_idle(QUEUE, timeout_s=10)
    spans = {
        (span.kind, (span.attributes or {}).get("backbone.job.name")): span
        for span in exporter.get_finished_spans()
    }
    first_attempt = spans[(SpanKind.CONSUMER, FOLLOW_UP)]
    follow_up_add = spans[(SpanKind.PRODUCER, JOB)]
    follow_up_attempt = spans[(SpanKind.CONSUMER, JOB)]
    assert first_attempt.context is not None and follow_up_add.context is not None
    assert follow_up_add.parent is not None and follow_up_add.parent.span_id == first_attempt.context.span_id
    assert (
        follow_up_attempt.parent is not None
        and follow_up_attempt.parent.span_id == follow_up_add.context.span_id
    )
    assert len({span.context.trace_id for span in spans.values() if span.context}) == 1
