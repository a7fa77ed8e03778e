"""``Worker``: claims jobs from one queue and runs their handlers.

Policy lives here once, for every adapter: concurrency, payload decoding into the registered
model, timeouts, failure categories and backoff, progress, lease renewal, graceful shutdown and
correlation-id propagation (to logs and to jobs enqueued from a handler), and jobs whose name
has no handler here handed back to the queue (ADR 0017). What happens is reported to the hooks
(ADR 0016); the worker's own counters, ``metrics``, are the first of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import traceback
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from application.encryption.envelope import (
    KeyNotLoadedError,
    PayloadDecryptionError,
    is_sealed,
    not_loaded_text,
)
from application.hooks import Attempt, Hook, Hooks
from application.jobs.payload_codec import decode_payload, encode_json
from application.queue_backend import ClaimedJob, ClaimRequest, FailureReport, LeaseRef, QueueBackend
from application.worker.context import RunningJobContext, current_job_id
from application.worker.handlers import HandlerRegistry
from application.worker.metrics import WorkerMetrics
from application.worker.options import WorkerOptions
from application.worker.retry_policy import failure_category, retry_delay
from domain.queue.errors import JobTimeoutError, PermanentError, QueueError
from domain.queue.job import Job
from domain.queue.metadata import current_correlation_id
from domain.queue.naming import is_valid_job_name

if TYPE_CHECKING:
    from application.encryption.policy import PayloadEncryption

logger = logging.getLogger(__name__)
handler_logger = logging.getLogger("backbone.handler")

MAX_STACKTRACE_CHARS = 4000
SHUTDOWN_REASON = "worker shut down before the job finished"


class Worker:
    def __init__(
        self,
        backend: QueueBackend,
        registry: HandlerRegistry,
        options: WorkerOptions | None = None,
        *,
        rng: random.Random | None = None,
        hooks: Iterable[Hook] = (),
        encryption: PayloadEncryption | None = None,
    ) -> None:
        self.backend = backend
        self.encryption = encryption  # opens sealed payloads for the handler only (ADR 0023)
        self.registry = registry
        self.options = options or WorkerOptions()
        self.metrics = WorkerMetrics()
        self.hooks = Hooks((self.metrics, *hooks))
        self._rng = rng or random.Random()
        self._active: dict[str, Attempt] = {}  # job id -> attempt of the jobs being run
        self._reserved: deque[ClaimedJob] = deque()  # claimed, not started yet
        self._slots: set[asyncio.Task[None]] = set()
        self._finishing = 0  # active jobs whose handler is done and whose result is being stored
        self._stopping = False
        self._grace_ms = self.options.shutdown_grace_ms
        self._stop_requested = asyncio.Event()
        self._wakeup: asyncio.Event | None = None
        self._started: asyncio.Event | None = None
        self._done: asyncio.Event | None = None

    @property
    def queue(self) -> str:
        return self.backend.name

    @property
    def active_count(self) -> int:
        return len(self._active)

    @property
    def reserved_count(self) -> int:
        """Jobs claimed ahead (prefetch) and not started yet."""
        return len(self._reserved)

    # --- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Claim and run jobs until ``request_stop``; then finish active jobs within the grace period."""
        self._wakeup = asyncio.Event()
        self._done = asyncio.Event()
        self._ensure_started_event().set()
        opts = self.options
        logger.info(
            "worker %s started queue=%s concurrency=%d lease_ms=%d",
            opts.worker_id,
            self.queue,
            opts.concurrency,
            opts.lease_ms,
        )
        renewer = asyncio.create_task(self._renew_leases(), name=f"lease-renewal:{self.queue}")
        try:
            await self._claim_loop()
        finally:
            await self._shutdown()
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            self._done.set()
            logger.info("worker %s stopped queue=%s metrics=%s", opts.worker_id, self.queue, self.metrics)

    def request_stop(self, grace_ms: int | None = None) -> None:
        """Stop taking jobs (safe to call from a signal handler on the loop).

        ``grace_ms`` overrides the shutdown grace period (0: cancel active jobs at once).
        """
        self._stopping = True
        if grace_ms is not None:
            self._grace_ms = grace_ms
        self._stop_requested.set()
        if self._wakeup is not None:
            self._wakeup.set()

    async def stop(self) -> None:
        self.request_stop()
        if self._done is not None:
            await self._done.wait()

    async def wait_started(self) -> None:
        await self._ensure_started_event().wait()

    def _ensure_started_event(self) -> asyncio.Event:
        if self._started is None:
            self._started = asyncio.Event()
        return self._started

    # --- claiming -------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        opts = self.options
        wakeup = self._wakeup
        assert wakeup is not None
        capacity = opts.concurrency + opts.prefetch
        top_up_at = max(1, (opts.prefetch + 1) // 2)  # claim for the reserve in batches, not job by job
        while not self._stopping:
            held = len(self._active) - self._finishing + len(self._reserved)
            wanted = capacity - held
            if held < opts.concurrency:
                await self._claim(wanted, opts.block_ms)  # wait for work: a slot has nothing to run
                continue
            if wanted >= top_up_at and await self._claim(wanted, 1):
                continue  # every slot has work: topped up the reserve without waiting
            wakeup.clear()
            held = len(self._active) - self._finishing + len(self._reserved)
            if held >= opts.concurrency and not self._stopping:
                await wakeup.wait()

    async def _claim(self, wanted: int, block_ms: int) -> int:
        """Claim up to ``wanted`` jobs into the reserve and hand them to slots; returns how many."""
        opts = self.options
        request = ClaimRequest(opts.worker_id, wanted, opts.lease_ms, opts.limiter, block_ms, opts.tenancy)
        try:
            batch = await self.backend.claim(request)
        except QueueError as exc:
            logger.warning("worker %s cannot claim from queue=%s: %s", opts.worker_id, self.queue, exc)
            await self._pause_after_error()
            return 0
        if batch:
            self.hooks.on_claimed(self.queue, batch)
        self._reserved.extend(batch)
        self._start_slots()
        return len(batch)

    async def _pause_after_error(self) -> None:
        wakeup = self._wakeup
        assert wakeup is not None
        wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), self.options.claim_error_backoff_ms / 1000)

    # --- slots: each runs reserved jobs one after another -----------------------------------------

    def _start_slots(self) -> None:
        """Start slot tasks for reserved jobs, up to ``concurrency`` slots in all.

        A slot runs jobs from the reserve until it is empty, so a busy worker creates no task per
        job; a slot whose reserve runs dry ends, and the next claim starts new ones.
        """
        if self._stopping:
            return
        for _ in range(min(len(self._reserved), self.options.concurrency - len(self._slots))):
            slot = asyncio.create_task(self._run_slot(), name=f"worker-slot:{self.queue}")
            self._slots.add(slot)
            slot.add_done_callback(self._on_slot_done)

    def _on_slot_done(self, slot: asyncio.Task[None]) -> None:
        self._slots.discard(slot)  # a slot cancelled before it ran did not remove itself
        self._start_slots()
        if self._wakeup is not None:
            self._wakeup.set()

    async def _run_slot(self) -> None:
        reserved = self._reserved
        try:
            while reserved and not self._stopping:
                await self._execute(reserved.popleft())
                if self._wakeup is not None:
                    self._wakeup.set()  # room for the claimer
        finally:
            # Leave the count at once, not in a later callback: a claim that lands in between
            # must see this slot gone and start another for its jobs.
            self._slots.discard(asyncio.current_task())

    # --- running one job ------------------------------------------------------------------------

    async def _execute(self, claimed: ClaimedJob) -> None:
        job = claimed.job
        attempt = Attempt(job, LeaseRef(job.id, claimed.token), self.options.worker_id)
        self._active[job.id] = attempt
        correlation_token = current_correlation_id.set(job.metadata.correlation_id or job.id)
        job_token = current_job_id.set(job.id)
        try:
            await self._run_attempt(attempt)
        except asyncio.CancelledError:
            # Cancelled at shutdown after the grace period: hand the attempt back at once.
            await asyncio.shield(self._report_shutdown(attempt))
            raise
        finally:
            current_job_id.reset(job_token)
            current_correlation_id.reset(correlation_token)
            if self._active.get(job.id) is attempt:  # not if the job was claimed again meanwhile
                del self._active[job.id]

    async def _run_attempt(self, attempt: Attempt) -> None:
        job = attempt.job
        found = self.registry.find(job.name)
        if found is None:
            if not is_valid_job_name(job.name):  # no worker can know it: handing back would only delay
                reason = f"job name {job.name!r} is not a valid job name, so no worker has a handler for it"
                await self._fail(attempt, PermanentError(reason))
                return
            await self._hand_back(attempt)
            return
        job_type, handler = found
        lease = attempt.lease
        self.hooks.on_started(attempt)
        try:
            if is_sealed(job.data):
                job = dataclasses.replace(job, data=self._open_payload(job))  # the handler's copy only
            payload = decode_payload(job_type, job.data)
            context = RunningJobContext(job, lease, self.backend, handler_logger)
            timeout_ms = job.options.timeout
            if timeout_ms is None:
                result = await handler(payload, context)
            else:
                deadline = asyncio.timeout(timeout_ms / 1000)
                try:
                    async with deadline:
                        result = await handler(payload, context)
                except TimeoutError:
                    if deadline.expired():
                        raise JobTimeoutError(f"job exceeded its timeout of {timeout_ms} ms") from None
                    raise
            return_json = encode_json(result, "return value")
            attempt.finish()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the one broad except: every handler failure becomes a decision
            await self._fail(attempt, error)
            return
        # The handler is done: while its result is stored, the claimer may already claim for this
        # slot, so the claim travels with the completion (one round trip / one record for both).
        self._finishing += 1
        if self._wakeup is not None and not self._reserved:
            self._wakeup.set()
        try:
            accepted = await self._report_complete(attempt, return_json)
        finally:
            self._finishing -= 1
        if accepted:
            self.hooks.on_completed(attempt)
            logger.debug(
                "job %s completed queue=%s attempt=%d correlation_id=%s",
                job.id,
                job.queue,
                job.attempts_started,
                job.metadata.correlation_id,
            )

    def _open_payload(self, job: Job) -> Any:
        """The plaintext of a sealed payload, or ``PermanentError`` saying why it cannot be opened
        (key not loaded here, tampered, truncated or moved from another job): dead-lettered."""
        if self.encryption is None:
            raise PermanentError(f"{not_loaded_text(job.data)} in this worker")
        try:
            return self.encryption.open(job.queue, job.name, job.id, job.data)
        except KeyNotLoadedError as exc:
            raise PermanentError(f"{exc} in this worker") from None
        except PayloadDecryptionError as exc:
            raise PermanentError(str(exc)) from None

    async def _fail(self, attempt: Attempt, error: Exception) -> None:
        job = attempt.job
        delay = retry_delay(job, error, self._rng)
        reason = f"{type(error).__name__}: {error}"
        stack = "".join(traceback.format_exception(error))[-MAX_STACKTRACE_CHARS:]
        attempt.error = error
        attempt.reason = reason
        attempt.retry_delay_ms = delay
        if not await self._report_failure(attempt, FailureReport(reason, stack, delay)):
            return
        if delay is None:
            logger.error(
                "job %s dead-lettered queue=%s attempt=%d/%d correlation_id=%s category=%s reason=%s",
                job.id,
                job.queue,
                job.attempts_started,
                job.options.attempts,
                job.metadata.correlation_id,
                failure_category(error),
                reason,
            )
            self.hooks.on_dead_lettered(attempt)
        else:
            logger.warning(
                "job %s failed queue=%s attempt=%d/%d correlation_id=%s retry_in_ms=%d reason=%s",
                job.id,
                job.queue,
                job.attempts_started,
                job.options.attempts,
                job.metadata.correlation_id,
                delay,
                reason,
            )
            self.hooks.on_retry_scheduled(attempt)

    async def _report_shutdown(self, attempt: Attempt) -> None:
        attempt.reason = SHUTDOWN_REASON
        attempt.retry_delay_ms = 0
        if await self._report_failure(attempt, FailureReport(SHUTDOWN_REASON, None, 0)):
            self.hooks.on_retry_scheduled(attempt)

    async def _hand_back(self, attempt: Attempt) -> None:
        """No handler here for the job's name: back to the queue, the attempt not counted, so a
        worker that knows the name takes it; dead-lettered at the hand-back limit (ADR 0017)."""
        job = attempt.job
        opts = self.options
        known = ", ".join(self.registry.names()) or "none"
        if job.hand_backs >= opts.unknown_job_max_hand_backs:
            reason = (
                f"no handler for job name {job.name!r}: handed back {job.hand_backs} times "
                f"(unknown_job_max_hand_backs={opts.unknown_job_max_hand_backs}); "
                f"worker {opts.worker_id} knows: {known}"
            )
            attempt.error = PermanentError(reason)
            attempt.reason = reason
            if await self._report_failure(attempt, FailureReport(reason, None, None)):
                logger.error(
                    "job %s dead-lettered queue=%s correlation_id=%s reason=%s",
                    job.id,
                    job.queue,
                    job.metadata.correlation_id,
                    reason,
                )
                self.hooks.on_dead_lettered(attempt)
            return
        delay = opts.unknown_job_delay_ms
        attempt.reason = f"no handler for job name {job.name!r} in worker {opts.worker_id}"
        attempt.retry_delay_ms = delay
        try:
            accepted = await self.backend.hand_back(attempt.lease, delay)
        except QueueError as exc:
            logger.error(
                "job %s not handed back queue=%s (the lease will expire): %s", job.id, job.queue, exc
            )
            self._lost(attempt)
            return
        if not accepted:
            self._lost(attempt)
            return
        attempt.finish()
        logger.warning(
            "job %s handed back queue=%s: no handler for job name %r in worker %s (it knows: %s); "
            "claimable again in %d ms, hand-back %d of %d, correlation_id=%s",
            job.id,
            job.queue,
            job.name,
            opts.worker_id,
            known,
            delay,
            job.hand_backs + 1,
            opts.unknown_job_max_hand_backs,
            job.metadata.correlation_id,
        )
        self.hooks.on_handed_back(attempt)

    async def _report_complete(self, attempt: Attempt, return_json: str) -> bool:
        job = attempt.job
        try:
            accepted = await self.backend.complete(attempt.lease, return_json)
        except QueueError as exc:
            logger.error(
                "job %s result not stored queue=%s (the lease will expire): %s", job.id, job.queue, exc
            )
            self._lost(attempt)
            return False
        if not accepted:
            logger.warning(
                "job %s result refused queue=%s: the lease was lost to another worker", job.id, job.queue
            )
            self._lost(attempt)
        return accepted

    async def _report_failure(self, attempt: Attempt, report: FailureReport) -> bool:
        job = attempt.job
        attempt.finish()
        try:
            accepted = await self.backend.fail(attempt.lease, report)
        except QueueError as exc:
            logger.error(
                "job %s failure not stored queue=%s (the lease will expire): %s", job.id, job.queue, exc
            )
            self._lost(attempt)
            return False
        if not accepted:
            self._lost(attempt)
        return accepted

    def _lost(self, attempt: Attempt) -> None:
        """The attempt's outcome will not be stored by this worker: reported once to the hooks."""
        if not attempt.lease_lost:
            attempt.lease_lost = True
            attempt.finish()
            self.hooks.on_lease_lost(attempt)

    # --- leases and shutdown --------------------------------------------------------------------

    def _held_leases(self) -> list[LeaseRef]:
        leases = [attempt.lease for attempt in self._active.values()]
        leases.extend(LeaseRef(c.job.id, c.token) for c in self._reserved)
        return leases

    async def _renew_leases(self) -> None:
        interval = self.options.renew_every_ms / 1000
        while True:
            await asyncio.sleep(interval)
            leases = self._held_leases()
            if not leases:
                continue
            try:
                lost = await self.backend.extend_leases(self.options.worker_id, leases, self.options.lease_ms)
            except QueueError as exc:
                logger.warning(
                    "worker %s cannot renew leases queue=%s: %s", self.options.worker_id, self.queue, exc
                )
                continue
            sent = {lease.job_id: lease for lease in leases}
            for job_id in lost:
                attempt = self._active.get(job_id)
                # not lost: a job that finished while renewing, or that was claimed again meanwhile
                if attempt is not None and attempt.lease == sent.get(job_id):
                    logger.warning(
                        "job %s lease lost queue=%s: another worker may run it", job_id, self.queue
                    )
                    self._lost(attempt)

    async def _shutdown(self) -> None:
        await self._release_reserved()
        if not self._slots:
            return
        pending = set(self._slots)  # slots still running a job: each ends after it (stopping)
        logger.info(
            "worker %s finishing %d active jobs queue=%s",
            self.options.worker_id,
            len(self._active),
            self.queue,
        )
        loop = asyncio.get_running_loop()
        began = loop.time()
        while pending:
            self._stop_requested.clear()  # a later request_stop may shorten the grace: re-read it then
            remaining = began + self._grace_ms / 1000 - loop.time()
            if remaining <= 0:
                break
            waiter = asyncio.ensure_future(self._stop_requested.wait())
            done, _ = await asyncio.wait(
                {*pending, waiter}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            pending -= done
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def _release_reserved(self) -> None:
        if not self._reserved:
            return
        leases = [LeaseRef(c.job.id, c.token) for c in self._reserved]
        self._reserved.clear()
        try:
            await self.backend.release(self.options.worker_id, leases)
            self.hooks.on_released(self.queue, leases)
        except QueueError as exc:
            logger.error(
                "worker %s could not hand back %d jobs queue=%s: %s",
                self.options.worker_id,
                len(leases),
                self.queue,
                exc,
            )
