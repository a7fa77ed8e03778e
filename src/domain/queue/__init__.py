"""The queueing kernel every domain module depends on: the ``IGenericQueue`` port and its model."""

from domain.queue.errors import (
    BrokerUnavailableError,
    InvalidJobError,
    InvalidJobNameError,
    InvalidOptionError,
    InvalidPayloadError,
    JobFailure,
    JobTimeoutError,
    PayloadTooLargeError,
    PermanentError,
    QueueError,
    RetryableError,
    UnknownJobNameError,
)
from domain.queue.job import (
    DeadLetter,
    DeadLetterFilter,
    Job,
    JobLogLine,
    JobProgress,
    JobState,
    NewJob,
    Progress,
    QueueStats,
)
from domain.queue.metadata import JobMetadata, UserRef, current_correlation_id
from domain.queue.options import Backoff, BackoffType, JobOptions, KeepJobs, QueueDefaults, RateLimit
from domain.queue.port import IGenericQueue
from domain.queue.priority import Priority

__all__ = [
    "Backoff",
    "BackoffType",
    "BrokerUnavailableError",
    "DeadLetter",
    "DeadLetterFilter",
    "IGenericQueue",
    "InvalidJobError",
    "InvalidJobNameError",
    "InvalidOptionError",
    "InvalidPayloadError",
    "Job",
    "JobFailure",
    "JobLogLine",
    "JobMetadata",
    "JobOptions",
    "JobProgress",
    "JobState",
    "JobTimeoutError",
    "KeepJobs",
    "NewJob",
    "PayloadTooLargeError",
    "PermanentError",
    "Priority",
    "Progress",
    "QueueDefaults",
    "QueueError",
    "QueueStats",
    "RateLimit",
    "RetryableError",
    "UnknownJobNameError",
    "UserRef",
    "current_correlation_id",
]
