"""What the ledger keeps: one entry per settlement, validation or refund outcome."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EntryKind(StrEnum):
    SETTLEMENT = "settlement"
    VALIDATION = "validation"
    REFUND = "refund"


class EntryOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One recorded result. ``reasons`` says why a rejected entry was rejected."""

    tx_id: str
    kind: EntryKind
    outcome: EntryOutcome
    amount_minor: int
    currency: str
    recorded_at: int  # epoch ms
    job_id: str
    correlation_id: str
    reasons: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.outcome is EntryOutcome.ACCEPTED
