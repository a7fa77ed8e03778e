"""Transaction ledgers: in memory, and an append-only JSON-lines file."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from adapters.outbound.json_lines import JsonLinesSink
from domain.transactions.model import EntryKind, EntryOutcome, LedgerEntry
from domain.transactions.ports import LedgerUnavailableError, TransactionLedger

logger = logging.getLogger(__name__)


class InMemoryLedger(TransactionLedger):
    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []

    async def record(self, entry: LedgerEntry) -> None:
        self.entries.append(entry)

    async def entries_for(self, tx_id: str) -> list[LedgerEntry]:
        return [entry for entry in self.entries if entry.tx_id == tx_id]


class JsonLinesLedger(TransactionLedger):
    """One JSON line per entry in ``path``; several worker processes may share the file."""

    def __init__(self, path: Path) -> None:
        self._sink = JsonLinesSink(path)
        self._path = path

    async def record(self, entry: LedgerEntry) -> None:
        try:
            await self._sink.write(dataclasses.asdict(entry))
        except OSError as exc:
            raise LedgerUnavailableError(f"ledger file not writable: {exc.strerror or exc}") from exc
        logger.info(
            "ledger: %s %s of %s (job_id=%s correlation_id=%s)",
            entry.kind,
            entry.outcome,
            entry.tx_id,
            entry.job_id,
            entry.correlation_id,
        )

    async def entries_for(self, tx_id: str) -> list[LedgerEntry]:
        return [entry for entry in await self.entries() if entry.tx_id == tx_id]

    async def entries(self) -> list[LedgerEntry]:
        try:
            records = await self._sink.read()
        except OSError as exc:
            raise LedgerUnavailableError(f"ledger file not readable: {exc.strerror or exc}") from exc
        entries = []
        for record in records:
            entry = _entry(record)
            if entry is None:
                logger.warning("ledger %s: skipping a record that is not a ledger entry", self._path.name)
            else:
                entries.append(entry)
        return entries


def _entry(record: dict[str, Any]) -> LedgerEntry | None:
    try:
        return LedgerEntry(
            tx_id=str(record["tx_id"]),
            kind=EntryKind(record["kind"]),
            outcome=EntryOutcome(record["outcome"]),
            amount_minor=int(record["amount_minor"]),
            currency=str(record["currency"]),
            recorded_at=int(record["recorded_at"]),
            job_id=str(record["job_id"]),
            correlation_id=str(record["correlation_id"]),
            reasons=tuple(str(reason) for reason in record.get("reasons", ())),
        )
    except (KeyError, TypeError, ValueError):
        return None
