"""The payment domain's event and the metadata it travels with (seed 002 ``EventStoreMetaProps``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PaymentCompletedV1:
    """A payment went through. ``settlement_date`` must be timezone-aware."""

    payment_id: str
    user_id: str
    amount_minor: int
    currency: str
    merchant_name: str
    settlement_date: datetime

    def __post_init__(self) -> None:
        if self.settlement_date.tzinfo is None or self.settlement_date.utcoffset() is None:
            raise ValueError("settlement_date must be timezone-aware")
        if (
            isinstance(self.amount_minor, bool)
            or not isinstance(self.amount_minor, int)
            or self.amount_minor <= 0
        ):
            raise ValueError("amount_minor must be a positive integer (minor units)")


@dataclass(frozen=True, slots=True)
class EventMetadata:
    """Who caused the event and under which correlation id; every job of the flow carries it."""

    correlation_id: str
    tenant_id: str | None = None
    user_id: str | None = None
    source: str = "payment.domain"
