"""Transactions handlers against the real in-memory ledger: end state is what the ledger holds."""

from __future__ import annotations

import pytest

from adapters.outbound.ledgers import InMemoryLedger
from domain.queue.errors import PermanentError
from domain.transactions.handlers import (
    RefundTransactionHandler,
    SettleTransactionHandler,
    ValidateTransactionHandler,
    build_handlers,
)
from domain.transactions.jobs import (
    JOB_MODELS,
    REFUND_JOB,
    SETTLEMENT_JOB,
    VALIDATION_JOB,
    RefundTransaction,
    SettleTransaction,
    ValidateTransaction,
    ValidationRule,
)
from domain.transactions.model import EntryKind, EntryOutcome

NOW = 1_760_000_000_000


def settle(tx_id: str = "tx-1", amount: int = 5000, currency: str = "USD") -> SettleTransaction:
    return SettleTransaction(tx_id=tx_id, amount_minor=amount, currency=currency, merchant_id="m-1")


def validate(
    risk: float = 0.1, rules: tuple[ValidationRule, ...] = (), amount: int = 5000, currency: str = "USD"
) -> ValidateTransaction:
    return ValidateTransaction(
        tx_id="tx-1", amount_minor=amount, currency=currency, risk_score=risk, rules=rules
    )


def refund(amount: int, currency: str = "USD") -> RefundTransaction:
    return RefundTransaction(tx_id="tx-1", amount_minor=amount, currency=currency, reason="customer request")


async def test_settlement_is_recorded_in_the_ledger_with_the_jobs_correlation_id(context_for) -> None:
    ledger = InMemoryLedger()
    result = await SettleTransactionHandler(ledger, clock=lambda: NOW)(
        settle(), context_for("settlement-tx-1", correlation_id="corr-42")
    )

    assert result == {"tx_id": "tx-1", "status": "settled", "recorded_by": "settlement-tx-1"}
    [entry] = ledger.entries
    assert (entry.kind, entry.outcome, entry.amount_minor, entry.currency) == (
        EntryKind.SETTLEMENT,
        EntryOutcome.ACCEPTED,
        5000,
        "USD",
    )
    assert (entry.job_id, entry.correlation_id, entry.recorded_at) == ("settlement-tx-1", "corr-42", NOW)


async def test_a_redelivered_settlement_is_recorded_once(context_for) -> None:
    ledger = InMemoryLedger()
    handler = SettleTransactionHandler(ledger)
    await handler(settle(), context_for("settlement-tx-1"))
    await handler(settle(), context_for("settlement-tx-1"))

    assert len(ledger.entries) == 1


async def test_settling_again_with_another_amount_is_a_permanent_failure_recorded_as_rejected(
    context_for,
) -> None:
    ledger = InMemoryLedger()
    handler = SettleTransactionHandler(ledger)
    await handler(settle(amount=5000), context_for("settlement-tx-1"))

    with pytest.raises(PermanentError, match="already settled as 5000 USD"):
        await handler(settle(amount=7000), context_for("other-job"))

    assert [(e.outcome, e.amount_minor) for e in ledger.entries] == [
        (EntryOutcome.ACCEPTED, 5000),
        (EntryOutcome.REJECTED, 7000),
    ]


async def test_a_transaction_rejected_by_validation_is_not_settled(context_for) -> None:
    ledger = InMemoryLedger()
    with pytest.raises(PermanentError):
        await ValidateTransactionHandler(ledger)(validate(risk=0.95), context_for("validation-tx-1"))

    with pytest.raises(PermanentError, match="validation rejected"):
        await SettleTransactionHandler(ledger)(settle(), context_for("settlement-tx-1"))

    assert not any(e.kind is EntryKind.SETTLEMENT and e.accepted for e in ledger.entries)


async def test_validation_passes_and_is_recorded_when_risk_and_rules_are_within_limits(context_for) -> None:
    ledger = InMemoryLedger()
    rules = (ValidationRule.AMOUNT_CHECK, ValidationRule.CURRENCY_CHECK, ValidationRule.FRAUD_DETECTION)
    result = await ValidateTransactionHandler(ledger)(validate(risk=0.2, rules=rules), context_for())

    assert result == {"tx_id": "tx-1", "status": "valid"}
    assert [(e.kind, e.outcome) for e in ledger.entries] == [(EntryKind.VALIDATION, EntryOutcome.ACCEPTED)]


async def test_risk_score_above_the_threshold_is_a_permanent_failure_recorded_with_its_reason(
    context_for,
) -> None:
    ledger = InMemoryLedger()
    with pytest.raises(PermanentError, match=r"risk_score 0\.95 is above the limit 0\.8"):
        await ValidateTransactionHandler(ledger)(validate(risk=0.95), context_for())

    [entry] = ledger.entries
    assert entry.outcome is EntryOutcome.REJECTED
    assert entry.reasons == ("risk_score 0.95 is above the limit 0.8",)


@pytest.mark.parametrize(
    ("rule", "payload_changes", "reason_start"),
    [
        (ValidationRule.AMOUNT_CHECK, {"amount": 200_000_000}, "amount_check"),
        (ValidationRule.CURRENCY_CHECK, {"currency": "XAU"}, "currency_check"),
        (ValidationRule.FRAUD_DETECTION, {"risk": 0.6}, "fraud_detection"),
    ],
)
async def test_a_failed_rule_is_a_permanent_failure_recorded_in_the_ledger(
    context_for, rule: ValidationRule, payload_changes: dict[str, object], reason_start: str
) -> None:
    ledger = InMemoryLedger()
    payload = validate(rules=(rule,), **payload_changes)  # type: ignore[arg-type]
    with pytest.raises(PermanentError, match=reason_start):
        await ValidateTransactionHandler(ledger)(payload, context_for())

    [entry] = ledger.entries
    assert entry.outcome is EntryOutcome.REJECTED
    assert entry.reasons[0].startswith(reason_start)


async def test_refund_of_part_of_a_settled_amount_is_recorded(context_for) -> None:
    ledger = InMemoryLedger()
    await SettleTransactionHandler(ledger)(settle(amount=5000), context_for("settlement-tx-1"))
    result = await RefundTransactionHandler(ledger)(refund(2000), context_for("refund-tx-1"))

    assert result == {"tx_id": "tx-1", "status": "refunded", "amount_minor": 2000}
    assert [(e.kind, e.outcome, e.amount_minor) for e in ledger.entries] == [
        (EntryKind.SETTLEMENT, EntryOutcome.ACCEPTED, 5000),
        (EntryKind.REFUND, EntryOutcome.ACCEPTED, 2000),
    ]


async def test_a_redelivered_refund_is_recorded_once(context_for) -> None:
    ledger = InMemoryLedger()
    await SettleTransactionHandler(ledger)(settle(amount=5000), context_for("settlement-tx-1"))
    handler = RefundTransactionHandler(ledger)
    await handler(refund(5000), context_for("refund-tx-1"))
    await handler(refund(5000), context_for("refund-tx-1"))

    assert [e.kind for e in ledger.entries] == [EntryKind.SETTLEMENT, EntryKind.REFUND]


async def test_refunding_more_than_was_settled_is_a_permanent_failure(context_for) -> None:
    ledger = InMemoryLedger()
    await SettleTransactionHandler(ledger)(settle(amount=5000), context_for("settlement-tx-1"))
    await RefundTransactionHandler(ledger)(refund(4000), context_for("refund-a"))

    with pytest.raises(PermanentError, match="more than the refundable 1000"):
        await RefundTransactionHandler(ledger)(refund(1001), context_for("refund-b"))

    assert ledger.entries[-1].outcome is EntryOutcome.REJECTED


async def test_refunding_an_unsettled_transaction_is_a_permanent_failure(context_for) -> None:
    ledger = InMemoryLedger()
    with pytest.raises(PermanentError, match="not settled"):
        await RefundTransactionHandler(ledger)(refund(100), context_for("refund-tx-1"))

    assert [(e.kind, e.outcome) for e in ledger.entries] == [(EntryKind.REFUND, EntryOutcome.REJECTED)]


async def test_refunding_in_another_currency_is_a_permanent_failure(context_for) -> None:
    ledger = InMemoryLedger()
    await SettleTransactionHandler(ledger)(settle(currency="USD"), context_for("settlement-tx-1"))

    with pytest.raises(PermanentError, match="differs from the settlement's USD"):
        await RefundTransactionHandler(ledger)(refund(100, currency="EUR"), context_for("refund-tx-1"))


def test_every_transactions_job_has_a_model_and_a_handler() -> None:
    handlers = build_handlers(InMemoryLedger())

    assert set(handlers) == set(JOB_MODELS) == {SETTLEMENT_JOB, VALIDATION_JOB, REFUND_JOB}
