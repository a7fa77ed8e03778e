"""``ReplicationEngine``: one queue's replicated state machine in this process.

It owns the local ``Replica`` and keeps it fed (tailing the log, reconnecting after broker
errors), appends this process's events with group commit (every event submitted while an append
is in flight goes into the next record, so batching grows with load), serves linearizable reads
through the log's barrier, and does the maintenance duties while it is leader (ticks at the
state's next wake time, snapshots). Several queue handles of one process share one engine.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from application.replication.event_codec import RECORD_OVERHEAD_BYTES, encode_entry, encode_record
from application.replication.log_port import LeaderElection, ReplicationLog, SnapshotStore
from application.replication.replica import Replica, wait_for_change
from application.replication.settings import Clock, ReplicationSettings, wall_clock_ms
from application.replication.snapshot_codec import AppenderMarks, decode_snapshot, encode_state
from application.replication.value_codec import CodecError
from application.state_machine import events as ev
from application.state_machine.machine import QueueStateMachine
from domain.queue.errors import BrokerUnavailableError, PayloadTooLargeError

logger = logging.getLogger(__name__)

T = TypeVar("T")
SWEEP_INTERVAL_S = 0.05


# (nonce, event, the encoded ``[nonce, event]``): a plain tuple, one per posted event (hot path)
_Pending = tuple[int, ev.QueueEvent, bytes]


@dataclass(frozen=True, slots=True)
class _Record:
    payload: bytes
    entries: tuple[tuple[int, ev.QueueEvent], ...]


class ReplicationEngine:
    def __init__(
        self,
        queue: str,
        log: ReplicationLog,
        snapshots: SnapshotStore,
        election: LeaderElection,
        *,
        broker: str,
        settings: ReplicationSettings | None = None,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self.queue = queue
        self.broker = broker  # redacted URL, for errors and logs
        self.settings = settings or ReplicationSettings()
        self.clock = clock
        self.appender_id = uuid.uuid4().hex[:16]
        self._log = log
        self._snapshots = snapshots
        self._election = election
        self._replica: Replica | None = None
        self._nonces = itertools.count(1)
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._notify_scheduled = False
        self._snapshot_offset = 0
        self._snapshot_at = 0
        self._closed = False
        self._users = 0
        self._deadlines: collections.deque[tuple[float, int, asyncio.Future[Any]]] = collections.deque()
        self.work_announced = 0  # adds of claimable jobs posted by this process (see announce_work)
        self._catch_up_to = 0  # read the log up to here at once (see _apply_own)
        self._catching_up: asyncio.Task[None] | None = None
        self._loading = asyncio.Lock()
        self._election_started = False
        self._ready = False  # the replica caught up with the log once (ensure_replica)
        self._start_barrier = 0  # the log's end when the replica was loaded
        self._snapshot_events = 0  # replica.events_applied when the last snapshot was taken
        # blind appends (ADR 0028): nonce -> (future, outcome), resolved by the append's confirm
        self._blind: dict[int, tuple[asyncio.Future[Any], Any]] = {}

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the log and load the replica at once (``open`` then ``ensure_replica``)."""
        await self.open()
        await self.ensure_replica()

    async def open(self) -> None:
        """Connect and create the log if missing; load nothing (ADR 0028).

        Enough for appends whose outcome needs no state (``add_blind``). Everything else calls
        ``ensure_replica`` first, which loads the snapshot and tails the log once per process.
        """
        await self._guard(self._log.open(), "opening the log")
        self._tasks.append(asyncio.create_task(self._expire_forever(), name=f"replica-expiry-{self.queue}"))

    @property
    def blind_appends(self) -> bool:
        """Whether an add that needs no state may return on the append's confirm (ADR 0028)."""
        return self._log.places_records_on_append

    @property
    def has_replica(self) -> bool:
        """Whether this process holds the queue's state (it read the snapshot and tails the log)."""
        return self._replica is not None

    async def ensure_replica(self) -> Replica:
        """The local replica, loaded on first use: snapshot, tail, election, catch-up.

        Each step runs once; after a failure (a broker error, a timeout) the next call resumes
        at the step that failed.
        """
        replica = self._replica
        if self._ready and replica is not None:
            return replica
        async with self._loading:
            if self._closed:
                raise BrokerUnavailableError(self.broker, "queue handle closed")
            replica = self._replica
            if replica is None:
                replica = await self._load_snapshot()
                # The log's end before the tail starts: on RabbitMQ a barrier behind a running
                # tail waits for the tail to reach it, which a long replay would make time out.
                self._start_barrier = await self._guard(self._log.barrier(), "reading the log end")
                if self._start_barrier < replica.next_offset:
                    raise BrokerUnavailableError(
                        self.broker,
                        f"the log ends before the restored state (offset {self._start_barrier} < "
                        f"{replica.next_offset}): it was deleted or truncated; reset the queue",
                    )
                self._replica = replica
                self._tasks.append(
                    asyncio.create_task(self._tail_forever(replica), name=f"replica-tail-{self.queue}")
                )
            if not self._election_started:
                await self._guard(self._election.start(), "joining the leader election")
                self._election_started = True
                self._tasks.append(
                    asyncio.create_task(self._maintain_forever(), name=f"replica-maintenance-{self.queue}")
                )
            if not self._ready:
                await self._catch_up_at_start(replica, self._start_barrier)
                self._ready = True
        return replica

    async def _load_snapshot(self) -> Replica:
        machine, next_offset = QueueStateMachine(queue=self.queue), 0
        marks: AppenderMarks = {}
        loaded = await self._load_latest_snapshot()
        if loaded is not None:
            try:
                (machine, marks), next_offset = decode_snapshot(loaded[1]), loaded[0]
            except CodecError as exc:
                logger.warning(
                    "snapshot ignored queue=%s reason=%s: replaying the log", self.queue, exc.reason
                )
        self._snapshot_offset = next_offset
        # As if the last snapshot were snapshot_min_interval_ms old: a replay past
        # snapshot_every_records is saved at once (by the leader), so the next process starts there.
        self._snapshot_at = self.clock() - self.settings.snapshot_min_interval_ms
        return Replica(
            machine,
            next_offset,
            self.appender_id,
            max_record_bytes=self.settings.max_record_bytes,
            marks=marks,
        )

    async def _load_latest_snapshot(self) -> tuple[int, bytes] | None:
        """``load_latest``, retried after a broker error until the operation timeout: a stream or
        topic another process has just created may refuse readers for a moment (RabbitMQ answers
        541 INTERNAL_ERROR while a new stream's member starts)."""
        delay = self.settings.reconnect_delay_ms / 1000
        deadline = time.monotonic() + self.settings.operation_timeout_s
        while True:
            try:
                return await self._guard(self._snapshots.load_latest(), "loading the snapshot")
            except BrokerUnavailableError as exc:
                if self._closed or time.monotonic() + delay >= deadline:
                    raise
                logger.warning("loading the snapshot failed queue=%s: %s; retrying", self.queue, exc.reason)
                await asyncio.sleep(delay)

    async def _catch_up_at_start(self, replica: Replica, barrier: int) -> None:
        """Wait until the replica reached the log's end, for as long as it makes progress.

        A long log is no reason to fail: the wait ends with an error only when the replica
        applied nothing for ``operation_timeout_ms``. A long replay is snapshotted at once by
        the leader (``_maybe_snapshot``), so the next process starts from there.
        """
        timeout_s = self.settings.operation_timeout_s
        while True:
            before = replica.next_offset
            if await replica.wait_applied(barrier, timeout_s):
                break
            if replica.next_offset == before:
                raise BrokerUnavailableError(
                    self.broker,
                    f"replica did not reach offset {barrier}: no record applied within "
                    f"{self.settings.operation_timeout_ms} ms (at offset {before})",
                )
        await self._sync(replica)

    def acquire(self) -> None:
        self._users += 1

    async def release(self) -> bool:
        """Drop one user; closes the engine when none is left. Returns True if it closed."""
        self._users -= 1
        if self._users > 0:
            return False
        await self.close()
        return True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        tasks = [
            *self._tasks,
            *([self._flusher] if self._flusher else []),
            *([self._catching_up] if self._catching_up else []),
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        closed = BrokerUnavailableError(self.broker, "queue handle closed")
        if self._replica is not None:
            self._replica.fail_all(closed)
        self._fail_blind(list(self._blind), closed)
        if self._election_started:
            with contextlib.suppress(BrokerUnavailableError):
                await self._election.stop()
        await self._log.close()

    def is_leader(self) -> bool:
        """Whether this process currently does the maintenance duties."""
        return self._election.is_leader()

    @property
    def log(self) -> ReplicationLog:
        return self._log

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def replica(self) -> Replica:
        if self._replica is None:
            raise RuntimeError("engine not started")
        return self._replica

    @property
    def machine(self) -> QueueStateMachine:
        return self.replica.machine

    # --- writes ---------------------------------------------------------------------------------

    def announce_work(self) -> None:
        """Tell this process's waiting claimers that an add of claimable jobs is about to be posted.

        Call it just before posting the add: the woken claimers post their ``Claim`` in the same
        loop iteration, so it joins the add in the same record (the flusher runs after them).
        The claim is applied after the add and starts its jobs: one append from add to start
        instead of two. Claimers in other processes see the add when their tail brings it.
        """
        self.work_announced += 1
        self.replica.wake_claimers()

    def post(self, event: ev.QueueEvent) -> tuple[int, asyncio.Future[Any]]:
        """Queue ``event`` for the next append (in call order); returns its nonce and outcome future."""
        nonce, entry = self._encode(event)
        future = self.replica.expect(nonce)
        self._enqueue(nonce, event, entry)
        return nonce, future

    def _encode(self, event: ev.QueueEvent) -> tuple[int, bytes]:
        if self._closed:
            raise BrokerUnavailableError(self.broker, "queue handle closed")
        nonce = next(self._nonces)
        entry = encode_entry(nonce, event)  # refuses what the replicas would not decode back equal
        if len(entry) > self.settings.max_record_bytes - RECORD_OVERHEAD_BYTES:
            raise PayloadTooLargeError(
                "data",
                f"one event must encode to at most {self.settings.max_record_bytes} bytes",
                detail=f"got {len(entry)}",
            )
        return nonce, entry

    def _enqueue(self, nonce: int, event: ev.QueueEvent, entry: bytes) -> None:
        self._pending.append((nonce, event, entry))
        flusher = self._flusher
        if flusher is None or flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name=f"replica-append-{self.queue}")

    def _fail_blind(self, nonces: Sequence[int], exc: Exception) -> None:
        for nonce in nonces:
            pending = self._blind.pop(nonce, None)
            if pending is not None and not pending[0].done():
                pending[0].set_exception(exc)

    def _confirm_blind(self, batch: Sequence[_Pending]) -> None:
        blind = self._blind
        if not blind:
            return
        for nonce, _, _ in batch:
            pending = blind.pop(nonce, None)
            if pending is not None and not pending[0].done():
                pending[0].set_result(pending[1])

    def post_blind(self, event: ev.QueueEvent, outcome: Any) -> asyncio.Future[Any]:
        """Queue ``event`` for the next append; the future gets ``outcome`` once it is confirmed.

        For events whose outcome the caller knows without the queue's state (ADR 0028: an add
        with a fresh random id and no idempotency key). Needs no replica: a producer that only
        adds never reads the snapshot or the log.
        """
        nonce, entry = self._encode(event)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._blind[nonce] = (future, outcome)
        self._enqueue(nonce, event, entry)
        return future

    async def outcome(self, nonce: int, future: asyncio.Future[Any]) -> Any:
        """The state machine's decision on a posted event, as this process applied it.

        Not confirmed within the operation timeout -> ``BrokerUnavailableError`` (set by the
        deadline sweeper: one timer for every pending event instead of one per event).
        """
        if not future.done():
            self._deadlines.append((time.monotonic() + self.settings.operation_timeout_s, nonce, future))
        return await future

    async def _expire_forever(self) -> None:
        """Fail the outcomes nobody confirmed in time (deadlines are in posting order)."""
        deadlines = self._deadlines
        while not self._closed:
            now = time.monotonic()
            while deadlines and (deadlines[0][2].done() or deadlines[0][0] <= now):
                _, nonce, future = deadlines.popleft()
                if not future.done():
                    if self._replica is not None:
                        self._replica.forget(nonce)
                    future.set_exception(
                        BrokerUnavailableError(
                            self.broker, f"event not confirmed within {self.settings.operation_timeout_ms} ms"
                        )
                    )
            await asyncio.sleep(SWEEP_INTERVAL_S)

    async def submit(self, event: ev.QueueEvent) -> Any:
        nonce, future = self.post(event)
        return await self.outcome(nonce, future)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            records = self._records(batch)
            try:
                offsets = await self._guard(
                    self._log.append_at([record.payload for record in records]), "appending"
                )
            except BrokerUnavailableError as exc:
                logger.warning("append failed queue=%s events=%d: %s", self.queue, len(batch), exc.reason)
                self._fail_blind([nonce for nonce, _, _ in batch], exc)
                if self._replica is not None:
                    for nonce, _, _ in batch:
                        self._replica.fail_outcome(nonce, exc)
                continue
            self._confirm_blind(batch)
            if offsets is not None and self._replica is not None:
                self._apply_own(records, offsets)

    def _apply_own(self, records: list[_Record], offsets: Sequence[int]) -> None:
        """Apply just-appended records whose offsets directly follow the replica (no read-back wait).

        Records of other processes in between are not known yet: then the tail delivers them all.
        """
        replica = self.replica
        applied = False
        for offset, record in sorted(zip(offsets, records, strict=True), key=lambda pair: pair[0]):
            if offset < replica.next_offset:
                continue
            if not replica.apply_own(offset, record.entries):
                self._catch_up(max(offsets) + 1)
                break
            applied = True
        if applied:
            self._schedule_notify()

    def _catch_up(self, to_offset: int) -> None:
        """Read the log up to ``to_offset`` at once: the other processes' records in front of our own,
        then our own (their outcomes resolve as they apply). The tail would bring them too, but may
        be holding a waiting fetch. One read at a time; a later request extends the target."""
        self._catch_up_to = max(self._catch_up_to, to_offset)
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.create_task(self._read_gaps(), name=f"replica-catch-up-{self.queue}")

    async def _read_gaps(self) -> None:
        replica = self.replica
        while replica.next_offset < self._catch_up_to and not self._closed:
            try:
                records = await self._guard(
                    self._log.read_range(replica.next_offset, self._catch_up_to), "reading the log"
                )
            except BrokerUnavailableError as exc:
                logger.warning("catching up failed queue=%s: %s; the tail brings it", self.queue, exc.reason)
                return
            if records is None:
                return  # not supported: the tail brings the records
            if not records:
                return  # nothing there (yet): the tail brings it
            for record in records:
                if record.offset > replica.next_offset:
                    break  # a hole in what was read: leave the rest to the tail
                replica.apply(record)
            self._schedule_notify()

    def _records(self, batch: list[_Pending]) -> list[_Record]:
        limit = self.settings.max_record_bytes
        per_record = self.settings.max_events_per_record
        records: list[_Record] = []
        chunk: list[_Pending] = []
        size = RECORD_OVERHEAD_BYTES
        for pending in batch:
            entry_bytes = len(pending[2])
            if chunk and (size + entry_bytes > limit or len(chunk) >= per_record):
                records.append(self._record(chunk))
                chunk, size = [], RECORD_OVERHEAD_BYTES
            chunk.append(pending)
            size += entry_bytes + 1
        if chunk:
            records.append(self._record(chunk))
        return records

    def _record(self, chunk: list[_Pending]) -> _Record:
        payload = encode_record(self.appender_id, [entry for _, _, entry in chunk])
        return _Record(payload, tuple((nonce, event) for nonce, event, _ in chunk))

    # --- reads ----------------------------------------------------------------------------------

    async def sync(self) -> QueueStateMachine:
        """The replica once it holds every record appended before this call (linearizable read).

        When time has passed a due delay or an expired lease, a Tick is appended first so the
        read sees what any process would see right now.
        """
        return await self._sync(await self.ensure_replica())

    async def _sync(self, replica: Replica) -> QueueStateMachine:
        barrier = await self._guard(self._log.barrier(), "reading the log end")
        if not await replica.wait_applied(barrier, self.settings.operation_timeout_s):
            raise BrokerUnavailableError(
                self.broker,
                f"replica did not reach offset {barrier} within {self.settings.operation_timeout_ms} ms",
            )
        wake = replica.machine.next_wake_at()
        now = self.clock()
        if wake is not None and wake < now:
            await self.submit(ev.Tick(now=now))
        return replica.machine

    # --- background -----------------------------------------------------------------------------

    async def _tail_forever(self, replica: Replica) -> None:
        delay = self.settings.reconnect_delay_ms / 1000
        while not self._closed:
            try:
                async for record in self._log.tail(replica.next_offset):
                    replica.apply(record)  # never raises for what a record holds (see Replica.apply)
                    self._schedule_notify()
            except (BrokerUnavailableError, ConnectionError, OSError) as exc:
                logger.warning("tailing the log failed queue=%s: %s; retrying", self.queue, exc)
            except Exception:  # a bug, not a record: keep the replica fed, the traceback in the log
                logger.exception("tailing the log failed queue=%s; retrying", self.queue)
            await asyncio.sleep(delay)

    def _schedule_notify(self) -> None:
        if not self._notify_scheduled:
            self._notify_scheduled = True
            asyncio.get_running_loop().call_soon(self._notify)

    def _notify(self) -> None:
        self._notify_scheduled = False
        self.replica.applied_batch()

    async def _maintain_forever(self) -> None:
        replica = self.replica
        settings = self.settings
        while not self._closed:
            changed = replica.change_event()
            timeout_ms = settings.leader_poll_ms
            if self._election.is_leader():
                wake = replica.machine.next_wake_at()
                now = self.clock()
                if wake is not None:
                    due = wake + settings.tick_slack_ms
                    if due <= now:
                        if not await self._tick(now):
                            await asyncio.sleep(settings.reconnect_delay_ms / 1000)
                        continue
                    timeout_ms = min(timeout_ms, due - now)
                try:
                    await self._maybe_snapshot()
                except Exception:  # a bug: maintenance (ticks) must go on; the traceback is logged
                    logger.exception("snapshot failed queue=%s", self.queue)
            await wait_for_change(changed, timeout_ms / 1000)

    async def _tick(self, now: int) -> bool:
        try:
            await self.submit(ev.Tick(now=now))
        except BrokerUnavailableError as exc:
            logger.warning("tick failed queue=%s: %s", self.queue, exc.reason)
            return False
        return True

    async def _maybe_snapshot(self) -> None:
        replica = self.replica
        settings = self.settings
        now = self.clock()
        behind = replica.next_offset - self._snapshot_offset
        events = replica.events_applied - self._snapshot_events
        since = now - self._snapshot_at
        many = behind >= settings.snapshot_every_records or events >= settings.snapshot_every_events
        by_count = many and since >= settings.snapshot_min_interval_ms
        by_time = behind > 0 and since >= settings.snapshot_max_interval_ms
        if by_count or by_time:
            await self._snapshot(replica)

    async def snapshot_now(self) -> int:
        """Save the replica's current state (loading it first if needed); returns the offset it covers."""
        return await self._snapshot(await self.ensure_replica())

    async def _snapshot(self, replica: Replica) -> int:
        offset, state = replica.next_offset, encode_state(replica.machine, replica.marks)  # one step
        events = replica.events_applied
        self._snapshot_at = self.clock()
        try:
            await self._guard(self._snapshots.save(offset, state), "saving a snapshot")
        except BrokerUnavailableError as exc:
            logger.warning("snapshot failed queue=%s: %s", self.queue, exc.reason)
            return self._snapshot_offset
        self._snapshot_offset = offset
        self._snapshot_events = events
        logger.info("snapshot saved queue=%s offset=%d bytes=%d", self.queue, offset, len(state))
        return offset

    async def _guard(self, operation: Awaitable[T], what: str) -> T:
        try:
            async with asyncio.timeout(self.settings.operation_timeout_s):
                return await operation
        except TimeoutError:
            raise BrokerUnavailableError(
                self.broker, f"{what} took longer than {self.settings.operation_timeout_ms} ms"
            ) from None


EngineFactory = Callable[[str], ReplicationEngine]
