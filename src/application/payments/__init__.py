"""The ``PaymentCompletedV1`` flow: one payment event fans out to three domain modules (seed 002)."""

from application.payments.events import EventMetadata, PaymentCompletedV1
from application.payments.handler import HIGH_VALUE_THRESHOLD_MINOR, PaymentCompletedHandler, PaymentFlowJobs

__all__ = [
    "HIGH_VALUE_THRESHOLD_MINOR",
    "EventMetadata",
    "PaymentCompletedHandler",
    "PaymentCompletedV1",
    "PaymentFlowJobs",
]
