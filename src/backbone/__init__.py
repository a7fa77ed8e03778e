"""messaging-backbone's public surface: import from here, everything else is internal (ADR 0015).

Declare a module::

    DomainModule, QueueSpec, JobSpec, ModuleContext, QueueDefaults, Backoff, BackoffType, KeepJobs, RateLimit,
    Schedule (a repeatable job, ADR 0020), TenantPolicy (fair share and tenant limits, ADR 0021)

Enqueue::

    IGenericQueue, JobOptions, JobMetadata, UserRef, Priority, NewJob, Job, JobState, current_correlation_id

Write a handler::

    JobContext, Handler, JobProgress, PermanentError, RetryableError, JobTimeoutError

Inspect (ADR 0026)::

    JobLogLine (what ``get_job_logs`` returns: the lines handlers stored with ``ctx.log``)

Observe the producer and the worker (metrics, tracing, audit; ADR 0016)::

    Hook (subclass it; ``[app] hooks`` or ``Backbone.open(hooks=[...])``), Adding, Attempt,
    ScheduleChange (``on_schedule_changed``, ADR 0022)

The audit log of admin actions (ADR 0024)::

    current_actor (who acts in this context), AdminAction, AdminRecordError (an action was done
    but could not be recorded), AuditEntry, AuditQuery (``await app.audit_log(AuditQuery(...))``)

Open queues by URL and run workers in this process::

    Backbone (``Backbone.open(url, modules=[...])``), Worker, WorkerOptions

Enqueue from synchronous code (threads, WSGI views, scripts)::

    SyncProducer (``SyncProducer(url, modules=[...]).enqueue(name, data)``)

Errors a caller may catch: ``QueueError`` (every error below), ``InvalidJobError`` (bad input at
``add``: ``field`` and ``rule``), ``BrokerUnavailableError``, ``SettingsError`` (bad settings,
a module that cannot be loaded, a worker for a queue no module handles).
"""

from typing import TYPE_CHECKING, Any

from backbone._layout import check_layout

check_layout()  # before anything below imports one of the four packages

if TYPE_CHECKING:
    from application.audit import AuditEntry, AuditQuery
    from application.hooks import (
        Adding,
        AdminAction,
        AdminRecordError,
        Attempt,
        Hook,
        ScheduleChange,
        current_actor,
    )
    from application.worker import Worker, WorkerOptions
    from bootstrap.app import Backbone
    from bootstrap.modules import ModuleError, UnhandledQueueError
    from bootstrap.settings import SettingsError
    from bootstrap.sync_producer import SyncProducer
    from domain.queue import (
        Backoff,
        BackoffType,
        BrokerUnavailableError,
        DeadLetter,
        IGenericQueue,
        InvalidJobError,
        Job,
        JobLogLine,
        JobMetadata,
        JobOptions,
        JobProgress,
        JobState,
        JobTimeoutError,
        KeepJobs,
        NewJob,
        PermanentError,
        Priority,
        QueueDefaults,
        QueueError,
        QueueStats,
        RateLimit,
        RetryableError,
        UserRef,
        current_correlation_id,
    )
    from domain.queue.context import Handler, JobContext
    from domain.queue.module import DomainModule, JobSpec, ModuleContext, QueueSpec
    from domain.queue.schedule import Schedule
    from domain.queue.tenancy import TenantPolicy

# Imported on first use (PEP 562), so that ``backbone --version`` and each CLI command import only
# what they need (ADR 0027); ``from backbone import Backbone`` works as before.
_EXPORTS: dict[str, str] = {
    "AuditEntry": "application.audit",
    "AuditQuery": "application.audit",
    "AdminAction": "application.hooks",
    "AdminRecordError": "application.hooks",
    "current_actor": "application.hooks",
    "Adding": "application.hooks",
    "Attempt": "application.hooks",
    "Hook": "application.hooks",
    "ScheduleChange": "application.hooks",
    "Worker": "application.worker",
    "WorkerOptions": "application.worker",
    "Backbone": "bootstrap.app",
    "ModuleError": "bootstrap.modules",
    "UnhandledQueueError": "bootstrap.modules",
    "SettingsError": "bootstrap.settings",
    "SyncProducer": "bootstrap.sync_producer",
    "Backoff": "domain.queue",
    "BackoffType": "domain.queue",
    "BrokerUnavailableError": "domain.queue",
    "DeadLetter": "domain.queue",
    "IGenericQueue": "domain.queue",
    "InvalidJobError": "domain.queue",
    "Job": "domain.queue",
    "JobLogLine": "domain.queue",
    "JobMetadata": "domain.queue",
    "JobOptions": "domain.queue",
    "JobProgress": "domain.queue",
    "JobState": "domain.queue",
    "JobTimeoutError": "domain.queue",
    "KeepJobs": "domain.queue",
    "NewJob": "domain.queue",
    "PermanentError": "domain.queue",
    "Priority": "domain.queue",
    "QueueDefaults": "domain.queue",
    "QueueError": "domain.queue",
    "QueueStats": "domain.queue",
    "RateLimit": "domain.queue",
    "RetryableError": "domain.queue",
    "UserRef": "domain.queue",
    "current_correlation_id": "domain.queue",
    "Handler": "domain.queue.context",
    "JobContext": "domain.queue.context",
    "DomainModule": "domain.queue.module",
    "JobSpec": "domain.queue.module",
    "ModuleContext": "domain.queue.module",
    "QueueSpec": "domain.queue.module",
    "Schedule": "domain.queue.schedule",
    "TenantPolicy": "domain.queue.tenancy",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'backbone' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Adding",
    "AdminAction",
    "AdminRecordError",
    "Attempt",
    "AuditEntry",
    "AuditQuery",
    "Backbone",
    "Backoff",
    "BackoffType",
    "BrokerUnavailableError",
    "DeadLetter",
    "DomainModule",
    "Handler",
    "Hook",
    "IGenericQueue",
    "InvalidJobError",
    "Job",
    "JobContext",
    "JobLogLine",
    "JobMetadata",
    "JobOptions",
    "JobProgress",
    "JobSpec",
    "JobState",
    "JobTimeoutError",
    "KeepJobs",
    "ModuleContext",
    "ModuleError",
    "NewJob",
    "PermanentError",
    "Priority",
    "QueueDefaults",
    "QueueError",
    "QueueSpec",
    "QueueStats",
    "RateLimit",
    "RetryableError",
    "Schedule",
    "ScheduleChange",
    "SettingsError",
    "SyncProducer",
    "TenantPolicy",
    "UnhandledQueueError",
    "UserRef",
    "Worker",
    "WorkerOptions",
    "check_layout",
    "current_actor",
    "current_correlation_id",
]
