"""``backbone worker --tracing`` (or ``worker.tracing``): the OpenTelemetry SDK configured from the
standard ``OTEL_*`` environment variables, and the tracing hook on every queue and worker of the
process (ADR 0025).

The SDK reads what it reads itself: ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` (the
resource), ``OTEL_TRACES_SAMPLER`` / ``_ARG`` (the sampler), ``OTEL_BSP_*`` (the batch processor)
and each exporter its own ``OTEL_EXPORTER_*`` variables. ``OTEL_TRACES_EXPORTER`` (default
``otlp``, comma-separated, ``none`` for no exporter) names exporters by their
``opentelemetry_traces_exporter`` entry points, as the SDK's auto-configuration does.
``OTEL_SDK_DISABLED=true`` turns tracing off.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

from dependency_injector import providers

from application.hooks import Hook
from bootstrap.broker_table import DISTRIBUTION
from bootstrap.container import Container
from bootstrap.settings import SettingsError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger(__name__)

DEFAULT_SERVICE_NAME = "backbone-worker"
EXPORTER_ENTRY_POINTS = "opentelemetry_traces_exporter"


@dataclass(slots=True)
class Tracing:
    provider: TracerProvider
    hook: Hook

    def shutdown(self) -> None:
        """Export what is still buffered, then stop the exporters."""
        self.provider.shutdown()


def _exporters(names: str) -> list[Any]:
    exporters = []
    for name in (part.strip() for part in names.split(",")):
        if not name or name == "none":
            continue
        found = metadata.entry_points(group=EXPORTER_ENTRY_POINTS, name=name)
        if not found:
            known = ", ".join(sorted(ep.name for ep in metadata.entry_points(group=EXPORTER_ENTRY_POINTS)))
            raise SettingsError(
                "OTEL_TRACES_EXPORTER", f"no exporter named {name!r} is installed (known: {known})"
            )
        exporters.append(next(iter(found)).load()())
    return exporters


def configure_tracing() -> Tracing:
    """A tracer provider from the ``OTEL_*`` environment, set as the global one, and its hook."""
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from adapters.observability.tracing import TracingHook
    except ImportError as exc:
        raise SettingsError(
            "worker.tracing",
            f"needs OpenTelemetry ({exc.name} is missing): pip install '{DISTRIBUTION}[otel]'",
        ) from None
    named = "OTEL_SERVICE_NAME" in os.environ or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {"service.name": DEFAULT_SERVICE_NAME})
    provider = TracerProvider(resource=resource)
    for exporter in _exporters(os.environ.get("OTEL_TRACES_EXPORTER", "otlp")):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return Tracing(provider, TracingHook(provider))


def enable_tracing(container: Container, flag: bool) -> Tracing | None:
    """When ``flag`` or ``worker.tracing`` asks (and ``OTEL_SDK_DISABLED`` does not forbid it): the
    tracing hook added to the container's hooks. Call before the container builds queues or workers."""
    if not (flag or container.settings().worker.tracing):
        return None
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        logger.info("tracing requested but OTEL_SDK_DISABLED=true: no spans")
        return None
    tracing = configure_tracing()
    given: tuple[Hook, ...] = tuple(container.given_hooks())
    container.given_hooks.override(providers.Object((*given, tracing.hook)))
    logger.info(
        "tracing on: exporters from OTEL_TRACES_EXPORTER=%s", os.environ.get("OTEL_TRACES_EXPORTER", "otlp")
    )
    return tracing
