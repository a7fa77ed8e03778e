"""The heartbeat of ``backbone worker`` on its broker (ADR 0025), every ``worker.heartbeat_interval_ms``."""

from __future__ import annotations

from importlib import metadata

from application.presence.heartbeat import WorkerPresence
from bootstrap.broker_table import DISTRIBUTION
from bootstrap.queues import QueueHandles
from bootstrap.settings import WorkerSettings
from bootstrap.worker_registries import worker_registry


def version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def worker_presence(settings: WorkerSettings, handles: QueueHandles) -> WorkerPresence | None:
    """The presence of this process's workers, or None when heartbeats are off (interval 0)."""
    if not settings.heartbeat_interval_ms:
        return None
    registry = worker_registry(handles.broker)
    return WorkerPresence(registry, version(), settings.heartbeat_interval_ms, clock=handles.broker.clock)
