"""messaging-backbone's public surface: import from here, everything else is internal (ADR 0015).

Declare a module::

    DomainModule, QueueSpec, JobSpec, ModuleContext, QueueDefaults, Backoff, BackoffType, KeepJobs, RateLimit,
    Schedule (a repeatable job, ADR 0020), TenantPolicy (fair share and tenant limits, ADR 0021)

Enqueue::

    IGenericQueue, JobOptions, JobMetadata, UserRef, Priority, NewJob, Job, JobState, current_correlation_id

Write a handler::

    JobContext, Handler, JobProgress, PermanentError, RetryableError, JobTimeoutError

Observe the producer and the worker (metrics, tracing, audit; ADR 0016)::

    Hook (subclass it; ``[app] hooks`` or ``Backbone.open(hooks=[...])``), Adding, Attempt

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

from backbone._layout import check_layout

check_layout()  # before anything below imports one of the four packages

from application.audit import AuditEntry, AuditQuery  # noqa: E402
from application.hooks import Adding, AdminAction, AdminRecordError, Attempt, Hook, current_actor  # noqa: E402
from application.worker import Worker, WorkerOptions  # noqa: E402
from bootstrap.app import Backbone  # noqa: E402
from bootstrap.modules import ModuleError, UnhandledQueueError  # noqa: E402
from bootstrap.settings import SettingsError  # noqa: E402
from bootstrap.sync_producer import SyncProducer  # noqa: E402
from domain.queue import (  # noqa: E402
    Backoff,
    BackoffType,
    BrokerUnavailableError,
    DeadLetter,
    IGenericQueue,
    InvalidJobError,
    Job,
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
from domain.queue.context import Handler, JobContext  # noqa: E402
from domain.queue.module import DomainModule, JobSpec, ModuleContext, QueueSpec  # noqa: E402
from domain.queue.schedule import Schedule  # noqa: E402
from domain.queue.tenancy import TenantPolicy  # noqa: E402

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
