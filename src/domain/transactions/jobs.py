"""Queue and job names of the transactions module, and the payload model of each job (seed 002).

Amounts are integer minor units (cents); currencies are ISO 4217 codes.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

TRANSACTION_PROCESSING_QUEUE = "transaction-processing"

SETTLEMENT_JOB = "transaction.settlement.v1"
VALIDATION_JOB = "transaction.validation.v1"
REFUND_JOB = "transaction.refund.v1"

# Identifiers end up inside job ids (``settlement-{tx_id}``): no whitespace, bounded length.
TransactionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
AmountMinor = Annotated[int, Field(gt=0, le=10**15)]


class ValidationRule(StrEnum):
    """Rules a validation job may ask for. The risk score is always checked."""

    AMOUNT_CHECK = "amount_check"
    CURRENCY_CHECK = "currency_check"
    FRAUD_DETECTION = "fraud_detection"


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SettleTransaction(_Payload):
    """Settle a completed payment with the merchant."""

    tx_id: TransactionId
    amount_minor: AmountMinor
    currency: CurrencyCode
    merchant_id: str | None = None
    merchant_name: str | None = None
    payment_method: str | None = None
    settlement_date: date | None = None


class ValidateTransaction(_Payload):
    """Check a transaction against risk and business rules before it goes further."""

    tx_id: TransactionId
    amount_minor: AmountMinor
    currency: CurrencyCode
    risk_score: Annotated[float, Field(ge=0.0, le=1.0)]
    rules: tuple[ValidationRule, ...] = ()


class RefundTransaction(_Payload):
    """Give (part of) a settled transaction's amount back."""

    tx_id: TransactionId
    amount_minor: AmountMinor
    currency: CurrencyCode
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


JOB_MODELS: dict[str, type[BaseModel]] = {
    SETTLEMENT_JOB: SettleTransaction,
    VALIDATION_JOB: ValidateTransaction,
    REFUND_JOB: RefundTransaction,
}
