"""The worker runtime: runs handlers for claimed jobs, with retries, timeouts, leases and shutdown."""

from application.worker.handlers import HandlerRegistry
from application.worker.metrics import WorkerMetrics
from application.worker.options import WorkerOptions
from application.worker.runtime import Worker

__all__ = ["HandlerRegistry", "Worker", "WorkerMetrics", "WorkerOptions"]
