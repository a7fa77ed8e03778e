"""OpenTelemetry tracing through the broker (ADR 0025): the producer span of ``add`` and the
consumer span of every attempt share one trace, on every broker; the worker may be another process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from adapters.observability.tracing import TracingHook
from backbone import Backbone, JobMetadata, JobOptions
from tests.harness.handle import BrokerHandle
from tests.integration.observability.traced_module import ATTEMPTS, JOB, MODULE, QUEUE, Flaky

REPO = Path(__file__).resolve().parents[3]
WAIT_S = 30.0
STOP_TIMEOUT_S = 15.0


@pytest.fixture(params=["memory", "redis_broker", "rabbitmq_broker", "kafka_broker"])
def broker_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    handle: BrokerHandle = request.getfixturevalue(request.param)
    return handle.url


@pytest.fixture
def key_prefix() -> str:
    return f"otel-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


async def wait_for_spans(exporter: InMemorySpanExporter, kind: SpanKind, count: int) -> list[ReadableSpan]:
    deadline = time.monotonic() + WAIT_S
    while True:
        spans = [span for span in exporter.get_finished_spans() if span.kind == kind]
        if len(spans) >= count or time.monotonic() > deadline:
            return sorted(spans, key=lambda span: span.start_time or 0)
        await asyncio.sleep(0.02)


async def test_the_add_and_every_attempt_of_a_job_are_one_trace_with_the_attempts_as_children_of_the_add(
    broker_url: str, key_prefix: str, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    hook = TracingHook(provider)
    async with Backbone.open(
        broker_url,
        modules=[MODULE],
        hooks=[hook],
        broker={"key_prefix": key_prefix},
        worker={"block_ms": 100},
    ) as app:
        job = await app.queue(QUEUE).add(
            JOB, Flaky(fail_times=ATTEMPTS - 1), metadata=JobMetadata(correlation_id="order-42")
        )
        async with app.workers(QUEUE) as [worker]:
            attempts = await wait_for_spans(exporter, SpanKind.CONSUMER, ATTEMPTS)
        stored = await app.queue(QUEUE).get_job(job.id)
    [producer] = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.PRODUCER]
    assert producer.context is not None
    trace_id = producer.context.trace_id
    assert producer.name == f"send {QUEUE}"
    assert producer.attributes is not None
    assert producer.attributes["messaging.message.id"] == job.id
    assert producer.attributes["messaging.destination.name"] == QUEUE
    assert [span.context.trace_id for span in attempts if span.context] == [trace_id] * ATTEMPTS
    assert [span.parent.span_id for span in attempts if span.parent] == [producer.context.span_id] * ATTEMPTS
    assert [dict(span.attributes or {}) for span in attempts] == [
        {
            "messaging.system": "backbone",
            "messaging.destination.name": QUEUE,
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.message.id": job.id,
            "messaging.message.conversation_id": "order-42",
            "backbone.job.name": JOB,
            "backbone.job.attempt": number,
            "backbone.worker.id": worker.options.worker_id,
            "backbone.job.outcome": outcome,
            **error,
        }
        for number, (span, outcome, error) in enumerate(
            zip(
                attempts,
                ["retry_scheduled", "retry_scheduled", "completed"],
                [
                    {"backbone.job.failure_category": "error", "error.type": "RuntimeError"},
                    {"backbone.job.failure_category": "error", "error.type": "RuntimeError"},
                    {},
                ],
                strict=True,
            ),
            start=1,
        )
    ]
    assert [span.status.status_code for span in attempts] == [
        StatusCode.ERROR,
        StatusCode.ERROR,
        StatusCode.UNSET,
    ]
    assert [[event.name for event in span.events] for span in attempts] == [["exception"], ["exception"], []]
    assert stored is not None
    assert stored.metadata.correlation_id == "order-42"  # unchanged by the trace context beside it
    assert set(stored.metadata.headers) >= {"traceparent"}


def start_traced_worker(broker_url: str, key_prefix: str) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BACKBONE_", "OTEL_"))}
    env.update(
        BACKBONE_BROKER__KEY_PREFIX=key_prefix,
        BACKBONE_WORKER__BLOCK_MS="100",
        OTEL_TRACES_EXPORTER="console",
        OTEL_SERVICE_NAME="traced-worker",
    )
    module = "tests.integration.observability.traced_module:MODULE"
    argv = [sys.executable, "-m", "bootstrap", "worker", QUEUE, "--module", module, "--broker", broker_url]
    return subprocess.Popen(
        [*argv, "--tracing", "--log-level", "WARNING"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def console_spans(text: str) -> list[dict[str, Any]]:
    """The spans the SDK's console exporter printed (indented JSON objects among other lines)."""
    decoder = json.JSONDecoder()
    spans, index = [], 0
    while (start := text.find("\n{", index)) != -1:
        span, index = decoder.raw_decode(text, start + 1)
        spans.append(span)
    return spans


async def test_a_worker_in_another_process_continues_the_trace_it_receives_through_the_broker(
    redis_broker: BrokerHandle, key_prefix: str, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with Backbone.open(
        redis_broker.url, modules=[MODULE], hooks=[TracingHook(provider)], broker={"key_prefix": key_prefix}
    ) as app:
        job = await app.queue(QUEUE).add(JOB, Flaky(fail_times=1), JobOptions(attempts=2))
        worker = start_traced_worker(redis_broker.url, key_prefix)
        try:
            await app.wait_until_idle(QUEUE, timeout_s=WAIT_S)
        finally:
            worker.terminate()
            output, _ = worker.communicate(timeout=STOP_TIMEOUT_S)
    [producer] = exporter.get_finished_spans()
    assert producer.context is not None
    spans = [span for span in console_spans("\n" + output) if span["kind"] == "SpanKind.CONSUMER"]
    assert [
        (span["attributes"]["backbone.job.attempt"], span["attributes"]["backbone.job.outcome"])
        for span in spans
    ] == [
        (1, "retry_scheduled"),
        (2, "completed"),
    ]
    assert {span["context"]["trace_id"] for span in spans} == {f"0x{producer.context.trace_id:032x}"}
    assert {span["parent_id"] for span in spans} == {f"0x{producer.context.span_id:016x}"}
    assert {span["attributes"]["messaging.message.id"] for span in spans} == {job.id}
    assert {span["resource"]["attributes"]["service.name"] for span in spans} == {"traced-worker"}
