"""Outbound ports of the transactions module."""

from __future__ import annotations

from abc import ABC, abstractmethod

from domain.queue.errors import RetryableError
from domain.transactions.model import LedgerEntry


class LedgerUnavailableError(RetryableError):
    """The ledger could not be read or written just now; the job is retried."""


class TransactionLedger(ABC):
    """Where settlement, validation and refund results are recorded (append-only).

    Implementations raise ``LedgerUnavailableError`` for transient storage failures.
    """

    @abstractmethod
    async def record(self, entry: LedgerEntry) -> None:
        """Append one entry."""

    @abstractmethod
    async def entries_for(self, tx_id: str) -> list[LedgerEntry]:
        """Every entry of one transaction, oldest first."""
