"""``RedisQueue``: one queue on Redis. Every state change is one Lua script (see ``lua/``).

The Python side validates and encodes (``JobFactory``), calls scripts, decodes replies
(``codec``) and waits for work on the queue's marker key with ``BZPOPMIN`` (no polling).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from adapters.redis.batching import Coalescer
from adapters.redis.codec import (
    MalformedJobHashError,
    add_argument,
    decode_claimable,
    decode_claimed,
    decode_claimed_batch,
    decode_job,
    fields_from_mapping,
    malformed_dead_letter,
    malformed_job,
    new_job,
    pairs_to_dict,
    payloads_of,
    removed_job,
    to_dead_letter,
    wire_text,
)
from adapters.redis.connection import RedisConnection
from adapters.redis.keys import QueueKeys
from adapters.redis.scripts import Arg, AutoPipeline, ScriptRunner
from adapters.redis.value_codec import COMPACT_JSON, encode_progress
from application.clock import Clock, system_clock
from application.jobs.job_factory import JobFactory
from application.queue_arguments import (
    clean_arguments,
    hand_back_arguments,
    list_arguments,
    log_line,
    page_arguments,
    purge_arguments,
)
from application.queue_backend import (
    ClaimedJob,
    ClaimRequest,
    FailureReport,
    JobDraft,
    LeaseRef,
    PayloadRewrite,
    QueueBackend,
)
from application.scheduling.stored import check_schedule_name, decode_schedules, encode_schedule
from domain.queue.job import (
    DeadLetter,
    DeadLetterFilter,
    Job,
    JobLogLine,
    JobState,
    JsonValue,
    NewJob,
    Progress,
    QueueStats,
)
from domain.queue.metadata import JobMetadata
from domain.queue.naming import validate_queue_name
from domain.queue.options import JobOptions
from domain.queue.schedule import Schedule
from domain.queue.tenancy import TenantPolicy

logger = logging.getLogger(__name__)

MIN_WAIT_S = 0.001
DRAIN_BATCH = 1000  # jobs deleted per drain script
MAX_CHUNK_PAYLOAD_CHARS = 4 * 1024 * 1024  # a chunk of big payloads is cut early: no huge script argument
_JSON = json.JSONDecoder()
REWRITE_PAGE = 500


class RedisQueue(QueueBackend):
    def __init__(
        self,
        connection: RedisConnection,
        factory: JobFactory,
        *,
        owns_connection: bool = False,
        clock: Clock = system_clock,
    ) -> None:
        self._conn = connection
        self._factory = factory
        self._clock = clock
        self._owns_connection = owns_connection
        self.keys = QueueKeys(connection.settings.key_prefix, validate_queue_name(factory.queue))
        self._scripts = ScriptRunner(self.keys.script_keys(), self.keys.base)
        self._pipeline = AutoPipeline(
            self._scripts, connection.commands, max_in_flight=connection.settings.pipelines_in_flight
        )
        self._completions: Coalescer[tuple[LeaseRef, str], bool] = Coalescer(
            self._complete_batch, gather_first=True
        )
        self._single_adds: Coalescer[JobDraft, Job] = Coalescer(self._add_drafts)
        self._closed = False

    @property
    def name(self) -> str:
        return self._factory.queue

    async def _run(self, what: str, *args: Arg) -> Any:
        async with self._conn.guard(what):
            return await self._pipeline.call(what, *args)

    # --- producer side ------------------------------------------------------------------------

    async def add(
        self,
        name: str,
        data: JsonValue,
        options: JobOptions | None = None,
        metadata: JobMetadata | None = None,
    ) -> Job:
        draft = self._factory.draft(name, data, options, metadata, self._clock())
        return await self._single_adds.submit(draft)

    async def add_bulk(self, jobs: Sequence[NewJob]) -> list[Job]:
        drafts = self._factory.drafts(jobs, self._clock())
        if not drafts:
            return []
        return await self._add_drafts(drafts)

    async def _add_drafts(self, drafts: Sequence[JobDraft]) -> list[Job]:
        """Store drafts in chunks, pipelined: while the server runs one chunk, the client encodes the
        next one and decodes the replies that are back."""
        chunks = _chunks(drafts, self._conn.settings.add_chunk, MAX_CHUNK_PAYLOAD_CHARS)
        if len(chunks) == 1:  # one call (a single add): nothing to overlap, so no task and no extra turn
            return self._decode_added(chunks[0], await self._run("add", add_argument(chunks[0])))
        sent: list[asyncio.Future[Any]] = []
        jobs: list[Job] = []
        decoded = 0
        async with self._conn.guard("add"):
            try:
                for part in chunks:
                    sent.append(asyncio.ensure_future(self._pipeline.call("add", add_argument(part))))
                    await asyncio.sleep(0)  # let the call be written before encoding the next chunk
                    while decoded < len(sent) and sent[decoded].done():
                        jobs.extend(self._decode_added(chunks[decoded], sent[decoded].result()))
                        decoded += 1
                for index in range(decoded, len(chunks)):
                    jobs.extend(self._decode_added(chunks[index], await sent[index]))
            finally:
                for future in sent:
                    future.cancel()  # no-op for finished calls; nothing left behind on errors
        return jobs

    def _decode_added(self, part: Sequence[JobDraft], reply: bytes) -> list[Job]:
        entries = json.loads(reply.decode("utf-8", "surrogateescape"))  # bytes that are not UTF-8 survive
        payloads = payloads_of(part)
        return [
            self._added(draft, data, entry)
            for draft, data, entry in zip(part, payloads, entries, strict=True)
        ]

    def _added(self, draft: JobDraft, data: Any, entry: list[Any]) -> Job:
        kind = entry[0]
        if kind == "n":
            return new_job(draft, data, self.name, entry[1], entry[2])
        if kind == "d":
            try:
                return decode_job(entry[1], self.name, entry[2], deduplicated=True)
            except MalformedJobHashError as exc:  # the existing job's hash was broken by someone else:
                return malformed_job(entry[1], self.name, exc, deduplicated=True)  # never fail the batch
        return removed_job(draft, entry[1], self.name)

    async def get_job(self, job_id: str) -> Job | None:
        """The job, or None. A stored hash that does not decode is dead-lettered as a malformed
        record first (unless a worker holds it), and that dead letter is returned."""
        key = wire_text(job_id) if isinstance(job_id, str) else None
        if key is None:
            return None  # no id add accepts looks like this: nothing can be stored under it
        reply = await self._run("read", "job", key)
        if not reply:
            return None
        try:
            return decode_job(job_id, self.name, pairs_to_dict(reply))
        except MalformedJobHashError as exc:
            logger.warning("job %s queue=%s is malformed, dead-lettered: %s", job_id, self.name, exc)
            await self._run("malformed", key, "", str(exc), exc.raw)
        reply = await self._run("read", "job", key)
        try:
            return decode_job(job_id, self.name, pairs_to_dict(reply)) if reply else None
        except MalformedJobHashError:
            return None  # a worker holds it: it is dead-lettered when its lease ends or it fails

    async def remove_job(self, job_id: str) -> bool:
        key = wire_text(job_id) if isinstance(job_id, str) else None
        return key is not None and bool(await self._run("remove", key))

    async def rewrite_payloads(self, rewrite: PayloadRewrite) -> int:
        """Scan every state but ``active`` a page at a time; each replacement is one compare-and-set
        script (``replace_data.lua``), so a job claimed meanwhile keeps its data."""
        replaced = 0
        for state_key in (self.keys.wait, self.keys.delayed, self.keys.completed, self.keys.failed):
            start = 0
            while True:
                async with self._conn.guard("rewrite_payloads"):
                    ids = await self._conn.commands.zrange(state_key, start, start + REWRITE_PAGE - 1)
                start += REWRITE_PAGE
                for raw_id in ids:
                    if isinstance(raw_id, bytes):
                        replaced += await self._rewrite_one(raw_id, rewrite)
                if len(ids) < REWRITE_PAGE:
                    break
        return replaced

    async def _rewrite_one(self, raw_id: bytes, rewrite: PayloadRewrite) -> int:
        try:
            job_id = raw_id.decode("utf-8")
        except UnicodeDecodeError:
            return 0  # not a job this framework wrote: left for the malformed-record path
        async with self._conn.guard("rewrite_payloads"):
            name, data = await self._conn.commands.hmget(self.keys.job(job_id), "name", "data")
        if not isinstance(name, bytes) or not isinstance(data, bytes):
            return 0
        try:
            new_json = rewrite(job_id, name.decode("utf-8"), data.decode("utf-8"))
        except UnicodeDecodeError:
            return 0
        if new_json is None:
            return 0
        return int(await self._run("replace_data", raw_id, data, new_json))

    # --- queue operations ---------------------------------------------------------------------

    async def pause(self) -> None:
        await self._run("pause", "1")

    async def resume(self) -> None:
        await self._run("pause", "0")

    async def is_paused(self) -> bool:
        async with self._conn.guard("is_paused"):
            return bool(await self._conn.commands.hexists(self.keys.meta, "paused"))

    async def clean(self, grace_ms: int, state: JobState, limit: int = 1000) -> int:
        state = clean_arguments(grace_ms, state, limit)
        return int(await self._run("clean", grace_ms, str(state), limit))

    async def drain(self) -> int:
        """In batches of ``DRAIN_BATCH`` (one script each) so Redis is never blocked for long."""
        drained = 0
        while True:
            count = int(await self._run("drain", DRAIN_BATCH))
            drained += count
            if count < DRAIN_BATCH:
                return drained

    async def get_stats(self) -> QueueStats:
        waiting, delayed, active, completed, failed, paused = await self._run("read", "stats")
        return QueueStats(
            waiting=waiting,
            delayed=delayed,
            active=active,
            completed=completed,
            failed=failed,
            paused=bool(paused),
        )

    # --- inspection (ADR 0026) ------------------------------------------------------------------

    async def list_jobs(self, state: JobState, limit: int = 100, offset: int = 0) -> list[Job]:
        state = list_arguments(state, limit, offset)
        reply = await self._run("inspect", "list", str(state), offset, limit)
        jobs = []
        for index in range(0, len(reply), 2):
            job_id = reply[index].decode("utf-8", "surrogateescape")
            try:
                jobs.append(decode_job(job_id, self.name, pairs_to_dict(reply[index + 1])))
            except MalformedJobHashError as exc:
                logger.warning("job %s queue=%s does not decode: %s", job_id, self.name, exc)
                jobs.append(malformed_job(job_id, self.name, exc, deduplicated=False))
        return jobs

    async def get_job_logs(self, job_id: str) -> list[JobLogLine] | None:
        key = wire_text(job_id) if isinstance(job_id, str) else None
        if key is None:
            return None
        reply = await self._run("inspect", "logs", key)
        if reply is None:
            return None
        lines = []
        for entry in reply:
            at, _, text = entry.decode("utf-8", "replace").partition(" ")
            if at.isdigit():
                lines.append(JobLogLine(int(at), text))
            else:  # not what log.lua wrote (a raw client's entry): shown whole, without a time
                lines.append(JobLogLine(0, entry.decode("utf-8", "replace")))
        return lines

    # --- dead letters -------------------------------------------------------------------------

    async def list_dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        page_arguments(limit, offset)
        return await self._dead_letters(offset, limit)

    async def _dead_letters(self, offset: int, limit: int) -> list[DeadLetter]:
        reply = await self._run("read", "dead", offset, limit)
        letters = []
        for index in range(0, len(reply), 2):
            job_id = reply[index].decode("utf-8", "surrogateescape")  # an id that is not UTF-8 survives
            try:
                letters.append(to_dead_letter(decode_job(job_id, self.name, pairs_to_dict(reply[index + 1]))))
            except MalformedJobHashError as exc:
                logger.warning("dead letter %s queue=%s does not decode: %s", job_id, self.name, exc)
                letters.append(malformed_dead_letter(job_id, self.name, exc))
        return letters

    async def reprocess_dead_letter(self, job_id: str) -> bool:
        key = wire_text(job_id) if isinstance(job_id, str) else None
        return key is not None and bool(await self._run("reprocess", key))

    async def reprocess_dead_letters(self, selection: DeadLetterFilter | None = None) -> int:
        if selection is None:
            return int(await self._run("reprocess", "*"))
        chosen: list[Arg] = [
            key
            for letter in reversed(await self._dead_letters(0, -1))
            if selection.matches(letter) and (key := wire_text(letter.job_id)) is not None
        ]
        if not chosen:
            return 0
        return int(await self._run("reprocess", *chosen))

    async def purge_dead_letters(self, older_than_ms: int) -> int:
        purge_arguments(older_than_ms)
        return int(await self._run("purge", older_than_ms))

    # --- run-time schedules (ADR 0022): one hash, plain commands (no other key changes with it) -----

    async def upsert_schedule(self, schedule: Schedule) -> Schedule:
        checked, text = encode_schedule(schedule, self._factory, self._clock())
        async with self._conn.guard("upsert_schedule"):
            await self._conn.commands.hset(self.keys.schedules, checked.name, text)
        return checked

    async def remove_schedule(self, name: str) -> bool:
        check_schedule_name(name)
        async with self._conn.guard("remove_schedule"):
            return bool(await self._conn.commands.hdel(self.keys.schedules, name))

    async def list_schedules(self) -> list[Schedule]:
        async with self._conn.guard("list_schedules"):
            stored = await self._conn.commands.hgetall(self.keys.schedules)
        return decode_schedules(self.name, stored)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._completions.close()
        await self._single_adds.close()
        if self._owns_connection:
            await self._conn.close()

    # --- consumer side ------------------------------------------------------------------------

    async def claim(self, request: ClaimRequest) -> Sequence[ClaimedJob]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.block_ms / 1000
        limiter = request.limiter
        limit_args: tuple[Arg, ...] = ("", "") if limiter is None else (limiter.max, limiter.duration)
        if request.tenancy is not None:
            limit_args += _tenancy_args(request.tenancy)
        while True:
            reply = await self._run(
                "claim", request.worker_id, request.max_jobs, request.lease_ms, *limit_args
            )
            wake_at, server_now, *entries = reply
            jobs = await self._decode_claimed(entries)
            if jobs:
                return jobs
            if entries:
                continue  # everything claimed was malformed and is dead-lettered now: look again
            remaining = deadline - loop.time()
            if remaining <= 0:
                return ()
            due_in = None if not wake_at else max(MIN_WAIT_S, (int(wake_at) - int(server_now)) / 1000)
            if due_in is not None and due_in < remaining:
                await self._conn.wait_for_signal(self.keys.marker, due_in)
                continue  # something falls due now: claim it
            if not await self._conn.wait_for_signal(self.keys.marker, remaining):
                return ()  # nothing was signalled while we waited: the claim's time is up

    async def _decode_claimed(self, entries: list[bytes]) -> list[ClaimedJob]:
        jobs = []
        parsed = decode_claimed_batch(entries)
        for index, blob in enumerate(entries):
            try:
                token, job = decode_claimed(blob if parsed is None else parsed[index], self.name)
            except Exception:  # whatever breaks (RecursionError too): judged field by field
                claimed = await self._decode_stored(blob)  # some field is not what add.lua wrote
                if claimed is None:
                    continue
                token, job = claimed
            jobs.append(ClaimedJob(job, token))
        return jobs

    async def _decode_stored(self, blob: bytes) -> tuple[str, Job] | None:
        """Decode a claimed job field by field; dead-letter it (``malformed.lua``) if it does not decode."""
        text = blob.decode("utf-8", "surrogateescape")  # starts [token,id, (both encoded by the script)
        token, end = _JSON.raw_decode(text, 1)
        job_id, _ = _JSON.raw_decode(text, end + 1)
        key = job_id.encode("utf-8", "surrogateescape")  # the script's bytes, even if not UTF-8
        async with self._conn.guard("read job"):
            stored = await self._conn.commands.hgetall(self.keys.base.encode() + b"job:" + key)
        try:
            return token, decode_claimable(job_id, self.name, fields_from_mapping(stored))
        except MalformedJobHashError as exc:
            logger.warning("job %s queue=%s is malformed, dead-lettered: %s", job_id, self.name, exc)
            await self._run("malformed", key, token, str(exc), exc.raw)
            return None

    async def extend_leases(self, worker_id: str, leases: Sequence[LeaseRef], lease_ms: int) -> list[str]:
        if not leases:
            return []
        args: list[Arg] = [lease_ms]
        for lease in leases:
            args.extend((lease.job_id, lease.token))
        lost = await self._run("extend", *args)
        return [job_id.decode("utf-8") for job_id in lost]

    async def update_progress(self, lease: LeaseRef, progress: Progress) -> bool:
        return bool(await self._run("progress", lease.job_id, lease.token, encode_progress(progress)))

    async def append_log(self, lease: LeaseRef, text: str) -> bool:
        keep = self._factory.defaults.keep_logs
        return bool(await self._run("log", lease.job_id, lease.token, log_line(text), keep))

    async def complete(self, lease: LeaseRef, return_json: str) -> bool:
        return await self._completions.submit((lease, return_json))

    async def _complete_batch(self, entries: Sequence[tuple[LeaseRef, str]]) -> list[bool]:
        argument = COMPACT_JSON.encode(
            [(lease.job_id, lease.token, return_json) for lease, return_json in entries]
        )
        return [flag == 49 for flag in await self._run("complete", argument)]  # b"1"

    async def fail(self, lease: LeaseRef, report: FailureReport) -> bool:
        retry = "" if report.retry_delay_ms is None else report.retry_delay_ms
        state = await self._run(
            "fail", lease.job_id, lease.token, report.reason, report.stacktrace or "", retry
        )
        return bool(state)

    async def release(self, worker_id: str, leases: Sequence[LeaseRef]) -> None:
        if not leases:
            return
        args: list[Arg] = []
        for lease in leases:
            args.extend((lease.job_id, lease.token))
        await self._run("release", *args)

    async def hand_back(self, lease: LeaseRef, delay_ms: int) -> bool:
        hand_back_arguments(delay_ms)
        return bool(await self._run("hand_back", lease.job_id, lease.token, delay_ms))


def _chunks(drafts: Sequence[JobDraft], max_jobs: int, max_chars: int) -> list[Sequence[JobDraft]]:
    """Consecutive runs of at most ``max_jobs`` drafts and (past the first) ``max_chars`` of payload."""
    chunks: list[Sequence[JobDraft]] = []
    start = size = 0
    for index, draft in enumerate(drafts):
        if index > start and (index - start >= max_jobs or size + len(draft.data_json) > max_chars):
            chunks.append(drafts[start:index])
            start, size = index, 0
        size += len(draft.data_json)
    if start < len(drafts):
        chunks.append(drafts[start:])
    return chunks


def _tenancy_args(policy: TenantPolicy) -> tuple[Arg, ...]:
    """claim.lua's ARGV[7..11]: fair share on, the limits ("" none) and the weights (ADR 0021)."""

    def opt(value: int | None) -> Arg:
        return "" if value is None else value

    weights = json.dumps(dict(policy.weights)) if policy.weights else ""
    return ("1", opt(policy.max_active), opt(policy.max_starts), opt(policy.window_ms), weights)
