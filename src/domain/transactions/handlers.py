"""Handlers of the transactions jobs. Business-rule violations are permanent and recorded.

Every handler is idempotent per job: a retried or redelivered job finds its own ledger entry and
does not record the effect twice (delivery is at least once).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from domain.queue.context import Handler, JobContext
from domain.queue.errors import PermanentError
from domain.transactions.jobs import (
    REFUND_JOB,
    SETTLEMENT_JOB,
    VALIDATION_JOB,
    RefundTransaction,
    SettleTransaction,
    ValidateTransaction,
)
from domain.transactions.model import EntryKind, EntryOutcome, LedgerEntry
from domain.transactions.ports import TransactionLedger
from domain.transactions.validation import ValidationPolicy

Clock = Callable[[], int]


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class _LedgerHandler:
    def __init__(self, ledger: TransactionLedger, clock: Clock = _epoch_ms) -> None:
        self._ledger = ledger
        self._clock = clock

    async def _record(
        self,
        ctx: JobContext,
        kind: EntryKind,
        tx: SettleTransaction | ValidateTransaction | RefundTransaction,
        reasons: tuple[str, ...] = (),
    ) -> LedgerEntry:
        entry = LedgerEntry(
            tx_id=tx.tx_id,
            kind=kind,
            outcome=EntryOutcome.REJECTED if reasons else EntryOutcome.ACCEPTED,
            amount_minor=tx.amount_minor,
            currency=tx.currency,
            recorded_at=self._clock(),
            job_id=ctx.job.id,
            correlation_id=ctx.correlation_id,
            reasons=reasons,
        )
        await self._ledger.record(entry)
        return entry

    async def _reject(
        self,
        ctx: JobContext,
        kind: EntryKind,
        tx: SettleTransaction | ValidateTransaction | RefundTransaction,
        reasons: tuple[str, ...],
    ) -> PermanentError:
        await self._record(ctx, kind, tx, reasons)
        ctx.logger.warning("%s of transaction %s rejected: %s", kind, tx.tx_id, "; ".join(reasons))
        return PermanentError(f"{kind} of transaction {tx.tx_id} rejected: {'; '.join(reasons)}")


class SettleTransactionHandler(_LedgerHandler):
    """Records the settlement. Refused for good if validation rejected the transaction or it was
    already settled with another amount."""

    async def __call__(self, payload: SettleTransaction, ctx: JobContext) -> dict[str, Any]:
        entries = await self._ledger.entries_for(payload.tx_id)
        settled = [e for e in entries if e.kind is EntryKind.SETTLEMENT and e.accepted]
        if settled:
            first = settled[0]
            if (first.amount_minor, first.currency) == (payload.amount_minor, payload.currency):
                return {"tx_id": payload.tx_id, "status": "settled", "recorded_by": first.job_id}
            reason = f"already settled as {first.amount_minor} {first.currency}"
            raise await self._reject(ctx, EntryKind.SETTLEMENT, payload, (reason,))
        if any(e.kind is EntryKind.VALIDATION and not e.accepted for e in entries):
            raise await self._reject(
                ctx, EntryKind.SETTLEMENT, payload, ("validation rejected the transaction",)
            )
        await self._record(ctx, EntryKind.SETTLEMENT, payload)
        ctx.logger.info(
            "settled transaction %s: %s %s", payload.tx_id, payload.amount_minor, payload.currency
        )
        return {"tx_id": payload.tx_id, "status": "settled", "recorded_by": ctx.job.id}


class ValidateTransactionHandler(_LedgerHandler):
    """Checks risk and rules; a violation is recorded and fails the job permanently."""

    def __init__(
        self, ledger: TransactionLedger, policy: ValidationPolicy | None = None, clock: Clock = _epoch_ms
    ) -> None:
        super().__init__(ledger, clock)
        self._policy = policy or ValidationPolicy()

    async def __call__(self, payload: ValidateTransaction, ctx: JobContext) -> dict[str, Any]:
        entries = await self._ledger.entries_for(payload.tx_id)
        mine = [e for e in entries if e.kind is EntryKind.VALIDATION and e.job_id == ctx.job.id]
        if mine and mine[-1].accepted:
            return {"tx_id": payload.tx_id, "status": "valid"}
        violations = self._policy.violations(payload)
        if violations:
            raise await self._reject(ctx, EntryKind.VALIDATION, payload, violations)
        await self._record(ctx, EntryKind.VALIDATION, payload)
        return {"tx_id": payload.tx_id, "status": "valid"}


class RefundTransactionHandler(_LedgerHandler):
    """Refunds at most what was settled and not yet refunded, in the settlement's currency."""

    async def __call__(self, payload: RefundTransaction, ctx: JobContext) -> dict[str, Any]:
        entries = await self._ledger.entries_for(payload.tx_id)
        refunds = [e for e in entries if e.kind is EntryKind.REFUND and e.accepted]
        if any(e.job_id == ctx.job.id for e in refunds):
            return {"tx_id": payload.tx_id, "status": "refunded", "amount_minor": payload.amount_minor}
        settled = [e for e in entries if e.kind is EntryKind.SETTLEMENT and e.accepted]
        if not settled:
            raise await self._reject(ctx, EntryKind.REFUND, payload, ("transaction is not settled",))
        settlement = settled[0]
        if settlement.currency != payload.currency:
            reason = f"currency {payload.currency} differs from the settlement's {settlement.currency}"
            raise await self._reject(ctx, EntryKind.REFUND, payload, (reason,))
        refundable = settlement.amount_minor - sum(e.amount_minor for e in refunds)
        if payload.amount_minor > refundable:
            reason = f"amount {payload.amount_minor} is more than the refundable {refundable}"
            raise await self._reject(ctx, EntryKind.REFUND, payload, (reason,))
        await self._record(ctx, EntryKind.REFUND, payload)
        ctx.logger.info(
            "refunded %s %s of transaction %s", payload.amount_minor, payload.currency, payload.tx_id
        )
        return {"tx_id": payload.tx_id, "status": "refunded", "amount_minor": payload.amount_minor}


def build_handlers(
    ledger: TransactionLedger, policy: ValidationPolicy | None = None, clock: Clock = _epoch_ms
) -> dict[str, Handler]:
    """The handler of every transactions job, by job name, for the worker's registry."""
    return {
        SETTLEMENT_JOB: SettleTransactionHandler(ledger, clock),
        VALIDATION_JOB: ValidateTransactionHandler(ledger, policy, clock),
        REFUND_JOB: RefundTransactionHandler(ledger, clock),
    }
