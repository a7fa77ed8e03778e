"""The local replica: a ``QueueStateMachine`` fed with the log's records, in order.

Every process applies every record the same way, so every replica holds the same state. A record
that does not decode becomes a ``RecordMalformed`` event with the deterministic job id
``malformed-<offset>``, its reason and its bytes: every process dead-letters it identically and
nothing blocks the log. Outcomes of this process's own events go to the futures waiting on their
nonce.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
from collections.abc import Sequence
from typing import Any

from application.replication.event_codec import decode_record
from application.replication.log_port import LogRecord
from application.replication.snapshot_codec import AppenderMarks
from application.replication.value_codec import CodecError
from application.state_machine import events as ev
from application.state_machine.machine import QueueStateMachine
from domain.queue.errors import InvalidJobError, InvalidOptionError

logger = logging.getLogger(__name__)

DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024
# Appender marks are pruned at offsets that are multiples of PRUNE_EVERY: appenders whose last
# record is more than PRUNE_AFTER records back are forgotten (a retried append lands right behind
# its original). Both depend on offsets only, so every replica forgets the same marks.
PRUNE_EVERY = 100_000
PRUNE_AFTER = 1_000_000


def malformed_job_id(offset: int) -> str:
    return f"malformed-{offset}"


async def wait_for_change(event: asyncio.Event, timeout_s: float) -> None:
    """Wait until ``event`` is set or ``timeout_s`` passes (no helper task, unlike ``wait_for``)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()


class Replica:
    """State machine + the offset of the next record to apply, with waiters on both."""

    def __init__(
        self,
        machine: QueueStateMachine,
        next_offset: int,
        appender_id: str,
        *,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        marks: AppenderMarks | None = None,
    ) -> None:
        self.machine = machine
        # appender id -> (last nonce applied, offset of that record): an appender's nonces only
        # grow, so an entry at or below its mark is a second copy of one already applied (a
        # producer retry that landed twice). Part of the replicated state: snapshots carry it.
        self.marks: AppenderMarks = dict(marks or {})
        self.next_offset = next_offset
        self.appender_id = appender_id
        self.max_record_bytes = max_record_bytes
        self._outcomes: dict[int, asyncio.Future[Any]] = {}
        self._offset_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._waiter_seq = itertools.count()
        self._changed = asyncio.Event()
        self.records_applied = 0
        self.events_applied = 0  # events of those records (a record may carry thousands)

    # --- applying -----------------------------------------------------------------------------

    def apply(self, record: LogRecord) -> None:
        """Apply one record (records below ``next_offset`` are ignored: already applied)."""
        if record.offset < self.next_offset:
            return
        self.next_offset = record.offset + 1
        self.records_applied += 1
        if len(record.payload) > self.max_record_bytes:
            self._apply_malformed(
                record, f"record of {len(record.payload)} bytes is over {self.max_record_bytes}"
            )
            return
        try:
            decoded = decode_record(record.payload)
        except CodecError as exc:
            self._apply_malformed(record, exc.reason)
            return
        except Exception as exc:  # decode_record raises only CodecError; this keeps the rule if not
            self._apply_malformed(record, f"{type(exc).__name__}: {exc}"[:300])
            return
        entries = self._fresh(decoded.appender, decoded.entries, record.offset)
        self._apply_entries(entries, own=decoded.appender == self.appender_id)
        self._maybe_prune(record.offset)

    def apply_own(self, offset: int, entries: Sequence[tuple[int, ev.QueueEvent]]) -> bool:
        """Apply this process's own record at ``offset`` from the events it was encoded from.

        Only when it directly follows what is applied (else the tail delivers it); skips decoding,
        which gives the same events (the codec round-trips exactly). Returns True if applied.
        """
        if offset != self.next_offset:
            return False
        self.next_offset = offset + 1
        self.records_applied += 1
        self._apply_entries(self._fresh(self.appender_id, entries, offset), own=True)
        self._maybe_prune(offset)
        return True

    def _fresh(
        self, appender: str, entries: Sequence[tuple[int, ev.QueueEvent]], offset: int
    ) -> Sequence[tuple[int, ev.QueueEvent]]:
        """The entries of a record not applied before (see ``marks``); updates the appender's mark."""
        mark = self.marks.get(appender)
        if mark is not None and entries and entries[0][0] <= mark[0]:
            fresh = [entry for entry in entries if entry[0] > mark[0]]
            logger.warning(
                "duplicate events skipped queue=%s offset=%d appender=%s events=%d",
                self.machine.queue,
                offset,
                appender,
                len(entries) - len(fresh),
            )
            entries = fresh
        if entries:
            self.marks[appender] = (entries[-1][0], offset)
        return entries

    def _maybe_prune(self, offset: int) -> None:
        if offset % PRUNE_EVERY == 0 and offset >= PRUNE_AFTER:
            cutoff = offset - PRUNE_AFTER
            self.marks = {appender: mark for appender, mark in self.marks.items() if mark[1] >= cutoff}

    def _apply_entries(self, entries: Sequence[tuple[int, ev.QueueEvent]], *, own: bool) -> None:
        machine = self.machine
        self.events_applied += len(entries)
        for nonce, event in entries:
            try:
                outcome = machine.apply(event)
            except InvalidJobError as exc:  # e.g. a Clean with a state it refuses: deterministic everywhere
                if own:
                    self._resolve_error(nonce, exc)
                continue
            except Exception as exc:  # a bug: same state, same code, same error in every replica
                logger.exception(
                    "event refused by the state machine queue=%s event=%s",
                    self.machine.queue,
                    type(event).__name__,
                )
                if own:
                    self._resolve_error(nonce, exc)
                continue
            if own:
                future = self._outcomes.pop(nonce, None)
                if future is not None and not future.done():
                    future.set_result(outcome)

    def _apply_malformed(self, record: LogRecord, reason: str) -> None:
        job_id = malformed_job_id(record.offset)
        logger.warning(
            "malformed record dead-lettered queue=%s job_id=%s reason=%s", self.machine.queue, job_id, reason
        )
        # The state's own time, not the record's timestamp: a raw client chooses that one.
        event = ev.RecordMalformed(
            job_id=job_id, raw=record.payload, reason=f"malformed record: {reason}", now=self.machine.now
        )
        self.machine.apply(event)
        self._fail_own_nonces(record.payload, reason)

    def _fail_own_nonces(self, payload: bytes, reason: str) -> None:
        """If an undecodable record is this process's own, its callers learn it at once (no timeout)."""
        if not self._outcomes:
            return
        try:
            envelope = json.loads(payload)
            if not isinstance(envelope, dict) or envelope.get("a") != self.appender_id:
                return
            nonces = [item[0] for item in envelope.get("b", ()) if isinstance(item, list) and item]
        except Exception:
            return
        for nonce in nonces:
            if isinstance(nonce, int):
                self._resolve_error(
                    nonce, InvalidOptionError("event", "did not decode in the replicas", detail=reason)
                )

    def _resolve_error(self, nonce: int, exc: Exception) -> None:
        future = self._outcomes.pop(nonce, None)
        if future is not None and not future.done():
            future.set_exception(exc)

    def applied_batch(self) -> None:
        """Wake offset waiters and claimers after one or more records were applied."""
        waiters = self._offset_waiters
        while waiters and waiters[0][0] <= self.next_offset:
            _, _, future = heapq.heappop(waiters)
            if not future.done():
                future.set_result(None)
        self.wake_claimers()

    def wake_claimers(self) -> None:
        """Set the current change event (and start a new one): every waiting claimer looks again."""
        changed = self._changed
        self._changed = asyncio.Event()
        changed.set()

    # --- waiting ------------------------------------------------------------------------------

    def expect(self, nonce: int) -> asyncio.Future[Any]:
        """A future that gets the outcome of this process's event with ``nonce``."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._outcomes[nonce] = future
        return future

    def forget(self, nonce: int) -> None:
        self._outcomes.pop(nonce, None)

    def fail_outcome(self, nonce: int, exc: Exception) -> None:
        self._resolve_error(nonce, exc)

    def change_event(self) -> asyncio.Event:
        """An event set the next time records are applied (take it before checking the state)."""
        return self._changed

    async def wait_applied(self, offset: int, timeout_s: float) -> bool:
        """Wait until every record below ``offset`` is applied; False on timeout."""
        if self.next_offset >= offset:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._offset_waiters, (offset, next(self._waiter_seq), future))
        try:
            async with asyncio.timeout(timeout_s):
                await future
        except TimeoutError:
            return False
        return True

    def fail_all(self, exc: Exception) -> None:
        """Fail every pending outcome (the engine is closing)."""
        outcomes, self._outcomes = self._outcomes, {}
        for future in outcomes.values():
            if not future.done():
                future.set_exception(exc)
