"""``ValidationPolicy``: the risk limit and the business rules a validation job is checked against."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.transactions.jobs import ValidateTransaction, ValidationRule

DEFAULT_CURRENCIES = frozenset({"USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD"})


@dataclass(frozen=True, slots=True)
class ValidationPolicy:
    """``risk_threshold`` applies to every transaction; the rules apply when the job asks for them."""

    risk_threshold: float = 0.8
    fraud_threshold: float = 0.5
    max_amount_minor: int = 100_000_000  # 1,000,000.00 in a two-decimal currency
    currencies: frozenset[str] = field(default=DEFAULT_CURRENCIES)

    def violations(self, tx: ValidateTransaction) -> tuple[str, ...]:
        """Why ``tx`` is refused; empty when it passes."""
        found: list[str] = []
        if tx.risk_score > self.risk_threshold:
            found.append(f"risk_score {tx.risk_score} is above the limit {self.risk_threshold}")
        for rule in dict.fromkeys(tx.rules):
            reason = self._check(rule, tx)
            if reason is not None:
                found.append(reason)
        return tuple(found)

    def _check(self, rule: ValidationRule, tx: ValidateTransaction) -> str | None:
        if rule is ValidationRule.AMOUNT_CHECK and tx.amount_minor > self.max_amount_minor:
            return f"amount_check: {tx.amount_minor} is above {self.max_amount_minor}"
        if rule is ValidationRule.CURRENCY_CHECK and tx.currency not in self.currencies:
            return f"currency_check: {tx.currency} is not accepted"
        if rule is ValidationRule.FRAUD_DETECTION and tx.risk_score >= self.fraud_threshold:
            return f"fraud_detection: risk_score {tx.risk_score} reaches {self.fraud_threshold}"
        return None
