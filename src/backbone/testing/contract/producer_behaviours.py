"""Contract behaviours 1-11: the producer side of the port."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from backbone.testing.contract.helpers import (
    ECHO,
    FAIL,
    MODEL,
    OTHER,
    Payment,
    contract_job_types,
    eventually,
    fast_defaults,
    recording_handler,
    running_worker,
    wait_for_state,
)
from backbone.testing.contract.support import BrokerUnderTest
from domain.queue.errors import (
    InvalidJobNameError,
    InvalidOptionError,
    InvalidPayloadError,
    PayloadTooLargeError,
    UnknownJobNameError,
)
from domain.queue.job import DeadLetterFilter, JobState, NewJob, QueueStats
from domain.queue.metadata import JobMetadata, UserRef
from domain.queue.options import Backoff, JobOptions, KeepJobs

ROUND_TRIP_VALUES: list[Any] = [
    {"text": "héllo wörld ✓ 日本語 🚀", "empty_text": ""},
    {"big": 2**80, "negative": -(2**70), "float": 1.5, "zero": 0},
    {"nested": {"a": [1, {"b": [None, True, False]}], "deep": [[[[]]]]}},
    {"empty_list": [], "empty_dict": {}},
    ["a", 1, None],
    "just a string",
    12345678901234567890123,
    None,
]


class ProducerBehaviours:
    # 1. add, then get_job from another client at once -------------------------------------------

    async def test_added_job_is_found_by_another_client_right_after_add(
        self, queue: Any, other_client: Any
    ) -> None:
        job = await queue.add(ECHO, {"n": 1})
        seen = await other_client.get_job(job.id)
        assert seen is not None
        assert (seen.id, seen.name, seen.data, seen.state) == (job.id, ECHO, {"n": 1}, JobState.WAITING)

    async def test_job_added_with_a_delay_is_stored_as_delayed(self, queue: Any, other_client: Any) -> None:
        job = await queue.add(ECHO, {}, JobOptions(delay=60_000))
        assert job.state is JobState.DELAYED
        seen = await other_client.get_job(job.id)
        assert seen is not None and seen.state is JobState.DELAYED

    async def test_get_job_returns_none_for_an_unknown_id(self, queue: Any) -> None:
        assert await queue.get_job("no-such-job") is None

    async def test_metadata_is_stored_with_the_job(self, queue: Any, other_client: Any) -> None:
        metadata = JobMetadata(
            correlation_id="corr-1",
            user=UserRef.system("org-acme"),
            source="contract-test",
            business_context={"kind": "payment"},
        )
        job = await queue.add(ECHO, {}, metadata=metadata)
        seen = await other_client.get_job(job.id)
        assert seen.metadata.correlation_id == "corr-1"
        assert seen.metadata.tenant_id == "org-acme"
        assert seen.metadata.user == UserRef.system("org-acme")
        assert seen.metadata.source == "contract-test"
        assert seen.metadata.business_context == {"kind": "payment"}
        assert seen.metadata.timestamp is not None

    # 2. data round-trips -------------------------------------------------------------------------

    @pytest.mark.parametrize("data", ROUND_TRIP_VALUES)
    async def test_data_round_trips_unchanged(self, queue: Any, other_client: Any, data: Any) -> None:
        job = await queue.add(ECHO, data)
        seen = await other_client.get_job(job.id)
        assert seen.data == data
        assert type(seen.data) is type(data)

    async def test_registered_model_reaches_the_handler_as_that_model(self, queue: Any) -> None:
        seen: list[tuple[str, Any]] = []
        job = await queue.add(MODEL, {"payment_id": "p-1", "amount_minor": 2**70})
        async with running_worker(queue, {MODEL: recording_handler(seen)}):
            await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert seen == [(job.id, Payment(payment_id="p-1", amount_minor=2**70))]

    # 3. invalid input is refused and nothing is stored ---------------------------------------------

    @pytest.mark.parametrize(
        ("name", "data", "options", "error", "field"),
        [
            ("Not A Name", {}, None, InvalidJobNameError, "name"),
            ("contract.echo", {}, None, InvalidJobNameError, "name"),
            ("contract.unknown.v1", {}, None, UnknownJobNameError, "name"),
            (MODEL, {"payment_id": "p"}, None, InvalidPayloadError, "data"),
            (MODEL, {"payment_id": "p", "amount_minor": 1, "extra": 1}, None, InvalidPayloadError, "data"),
            (ECHO, {"when": object()}, None, InvalidPayloadError, "data"),
            (ECHO, {"nan": float("nan")}, None, InvalidPayloadError, "data"),
            (ECHO, {}, JobOptions(priority=0), InvalidOptionError, "options.priority"),
            (ECHO, {}, JobOptions(priority=11), InvalidOptionError, "options.priority"),
            (ECHO, {}, JobOptions(delay=-1), InvalidOptionError, "options.delay"),
            (ECHO, {}, JobOptions(attempts=0), InvalidOptionError, "options.attempts"),
            (ECHO, {}, JobOptions(timeout=0), InvalidOptionError, "options.timeout"),
            (ECHO, {}, JobOptions(backoff=Backoff(delay=-5)), InvalidOptionError, "options.backoff.delay"),
            (ECHO, {}, JobOptions(backoff=Backoff(jitter=2.0)), InvalidOptionError, "options.backoff.jitter"),
            (ECHO, {}, JobOptions(remove_on_complete=-1), InvalidOptionError, "options.remove_on_complete"),
            (ECHO, {}, JobOptions(job_id=""), InvalidOptionError, "options.job_id"),
            (ECHO, {}, JobOptions(job_id="has space"), InvalidOptionError, "options.job_id"),
        ],
    )
    async def test_invalid_input_is_refused_naming_the_field_and_nothing_is_stored(
        self, queue: Any, name: str, data: Any, options: JobOptions | None, error: type[Exception], field: str
    ) -> None:
        with pytest.raises(error) as raised:
            await queue.add(name, data, options)
        assert raised.value.field == field  # type: ignore[attr-defined]
        assert field in str(raised.value)
        assert (await queue.get_stats()).total == 0

    async def test_payload_over_the_configured_limit_is_refused(
        self, broker: BrokerUnderTest, queue_name: str
    ) -> None:
        queue = await broker.open_queue(
            queue_name, contract_job_types(), fast_defaults(), max_payload_bytes=1024
        )
        try:
            with pytest.raises(PayloadTooLargeError) as raised:
                await queue.add(ECHO, {"blob": "x" * 2000})
            assert raised.value.field == "data"
            assert "1024" in str(raised.value)
            assert (await queue.get_stats()).total == 0
        finally:
            await queue.close()

    async def test_default_payload_limit_is_512_kib(self, queue: Any) -> None:
        await queue.add(ECHO, {"blob": "x" * (500 * 1024)})
        with pytest.raises(PayloadTooLargeError):
            await queue.add(ECHO, {"blob": "x" * (513 * 1024)})
        assert (await queue.get_stats()).total == 1

    # 4. add_bulk -----------------------------------------------------------------------------------

    async def test_add_bulk_returns_the_jobs_in_the_order_given(self, queue: Any, other_client: Any) -> None:
        entries = [NewJob(ECHO, {"i": i}, JobOptions(priority=1 + i % 10)) for i in range(25)]
        jobs = await queue.add_bulk(entries)
        assert [job.data for job in jobs] == [{"i": i} for i in range(25)]
        assert len({job.id for job in jobs}) == 25
        for job in jobs:
            seen = await other_client.get_job(job.id)
            assert seen is not None and seen.data == job.data and seen.priority == job.priority

    async def test_add_bulk_with_one_invalid_entry_stores_nothing(self, queue: Any) -> None:
        entries = [NewJob(ECHO, {"i": 0}), NewJob(ECHO, {}, JobOptions(priority=99)), NewJob(ECHO, {"i": 2})]
        with pytest.raises(InvalidOptionError) as raised:
            await queue.add_bulk(entries)
        assert raised.value.field == "jobs[1].options.priority"
        assert (await queue.get_stats()).total == 0

    async def test_each_bulk_entry_behaves_as_if_added_alone(self, queue: Any) -> None:
        jobs = await queue.add_bulk(
            [NewJob(ECHO, {"a": 1}), NewJob(ECHO, {"b": 2}, JobOptions(delay=60_000))]
        )
        assert [job.state for job in jobs] == [JobState.WAITING, JobState.DELAYED]
        stats = await queue.get_stats()
        assert (stats.waiting, stats.delayed) == (1, 1)

    # 5. custom job ids dedup ------------------------------------------------------------------------

    async def test_adding_an_existing_job_id_returns_the_existing_job(self, queue: Any) -> None:
        first = await queue.add(ECHO, {"v": 1}, JobOptions(job_id="order-42"))
        second = await queue.add(ECHO, {"v": 2}, JobOptions(job_id="order-42"))
        assert second.id == first.id == "order-42"
        assert second.data == {"v": 1}
        assert second.deduplicated and not first.deduplicated
        assert (await queue.get_stats()).total == 1

    async def test_duplicate_job_ids_inside_one_bulk_create_one_job(self, queue: Any) -> None:
        jobs = await queue.add_bulk([NewJob(ECHO, {"v": i}, JobOptions(job_id="same")) for i in range(3)])
        assert [job.id for job in jobs] == ["same", "same", "same"]
        assert [job.data for job in jobs] == [{"v": 0}] * 3
        assert (await queue.get_stats()).total == 1

    async def test_clients_racing_to_add_one_job_id_create_one_job(
        self, queue: Any, other_client: Any
    ) -> None:
        results = await asyncio.gather(
            *[
                client.add(ECHO, {"from": index}, JobOptions(job_id="raced"))
                for index, client in enumerate([queue, other_client] * 5)
            ]
        )
        assert {job.id for job in results} == {"raced"}
        assert sum(not job.deduplicated for job in results) == 1
        assert len({repr(job.data) for job in results}) == 1
        assert (await queue.get_stats()).total == 1

    # 6. idempotency keys -------------------------------------------------------------------------------

    async def test_second_add_with_the_same_idempotency_key_enqueues_nothing(self, queue: Any) -> None:
        first = await queue.add(ECHO, {"v": 1}, JobOptions(idempotency_key="tenant:pay:abc:0"))
        second = await queue.add(ECHO, {"v": 2}, JobOptions(idempotency_key="tenant:pay:abc:0"))
        assert second.id == first.id and second.deduplicated
        assert (await queue.get_stats()).total == 1

    async def test_idempotency_key_still_dedups_after_the_job_was_removed(self, queue: Any) -> None:
        first = await queue.add(ECHO, {}, JobOptions(idempotency_key="k-removed"))
        assert await queue.remove_job(first.id)
        second = await queue.add(ECHO, {}, JobOptions(idempotency_key="k-removed"))
        assert second.id == first.id and second.deduplicated
        assert second.state is JobState.REMOVED
        assert (await queue.get_stats()).total == 0

    async def test_idempotency_key_is_forgotten_after_its_ttl(self, queue: Any) -> None:
        first = await queue.add(ECHO, {}, JobOptions(idempotency_key="k-ttl", idempotency_ttl=200))
        await asyncio.sleep(0.5)
        second = await queue.add(ECHO, {}, JobOptions(idempotency_key="k-ttl", idempotency_ttl=200))
        assert second.id != first.id and not second.deduplicated
        assert (await queue.get_stats()).total == 2

    # 7. remove_job -------------------------------------------------------------------------------------

    @pytest.mark.parametrize("delay", [0, 60_000])
    async def test_removed_job_is_gone_and_never_processed(self, queue: Any, delay: int) -> None:
        job = await queue.add(ECHO, {}, JobOptions(delay=delay))
        assert await queue.remove_job(job.id) is True
        assert await queue.get_job(job.id) is None
        assert (await queue.get_stats()).total == 0
        seen: list[tuple[str, Any]] = []
        async with running_worker(queue, {ECHO: recording_handler(seen)}):
            marker = await queue.add(ECHO, {"marker": True})
            await wait_for_state(queue, marker.id, JobState.COMPLETED)
        assert [job_id for job_id, _ in seen] == [marker.id]

    async def test_completed_and_failed_jobs_can_be_removed(self, queue: Any) -> None:
        done = await queue.add(ECHO, {})
        failed = await queue.add(FAIL, {}, JobOptions(attempts=1))

        async def boom(payload: Any, ctx: Any) -> None:
            raise RuntimeError("boom")

        async with running_worker(queue, {ECHO: recording_handler([]), FAIL: boom}):
            await wait_for_state(queue, done.id, JobState.COMPLETED)
            await wait_for_state(queue, failed.id, JobState.FAILED)
        assert await queue.remove_job(done.id) and await queue.remove_job(failed.id)
        assert await queue.list_dead_letters() == []
        assert (await queue.get_stats()).total == 0

    async def test_active_job_is_not_removed(self, queue: Any) -> None:
        release = asyncio.Event()

        async def blocked(payload: Any, ctx: Any) -> None:
            await release.wait()

        job = await queue.add(ECHO, {})
        async with running_worker(queue, {ECHO: blocked}):
            await wait_for_state(queue, job.id, JobState.ACTIVE)
            assert await queue.remove_job(job.id) is False
            release.set()
            await wait_for_state(queue, job.id, JobState.COMPLETED)

    async def test_removing_an_unknown_job_returns_false(self, queue: Any) -> None:
        assert await queue.remove_job("never-existed") is False

    # 8. pause / resume -----------------------------------------------------------------------------------

    async def test_no_job_starts_in_any_client_while_paused(self, queue: Any, other_client: Any) -> None:
        seen: list[tuple[str, Any]] = []
        async with running_worker(other_client, {ECHO: recording_handler(seen)}):
            await queue.pause()
            assert await other_client.is_paused()
            job = await queue.add(ECHO, {})
            await asyncio.sleep(0.5)
            assert seen == []
            assert (await queue.get_job(job.id)).state is JobState.WAITING
            await queue.resume()
            assert not await other_client.is_paused()
            await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert [job_id for job_id, _ in seen] == [job.id]

    async def test_jobs_already_active_finish_while_paused(self, queue: Any) -> None:
        started = asyncio.Event()
        release = asyncio.Event()

        async def slow(payload: Any, ctx: Any) -> str:
            started.set()
            await release.wait()
            return "done"

        job = await queue.add(ECHO, {})
        async with running_worker(queue, {ECHO: slow}):
            await asyncio.wait_for(started.wait(), 10)
            await queue.pause()
            release.set()
            finished = await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert finished.return_value == "done"
        assert (await queue.get_stats()).paused

    # 9. clean ---------------------------------------------------------------------------------------------

    async def test_clean_removes_finished_jobs_older_than_the_grace_period(self, queue: Any) -> None:
        old = [await queue.add(ECHO, {"i": i}) for i in range(3)]
        async with running_worker(queue, {ECHO: recording_handler([])}):
            for job in old:
                await wait_for_state(queue, job.id, JobState.COMPLETED)
            await asyncio.sleep(1.0)
            fresh = await queue.add(ECHO, {"fresh": True})
            await wait_for_state(queue, fresh.id, JobState.COMPLETED)
            cleaned = await queue.clean(600, JobState.COMPLETED)
        assert cleaned == 3
        assert [await queue.get_job(job.id) for job in old] == [None, None, None]
        assert (await queue.get_job(fresh.id)) is not None
        assert (await queue.get_stats()).completed == 1

    async def test_clean_honours_its_limit(self, queue: Any) -> None:
        jobs = [await queue.add(ECHO, {"i": i}) for i in range(4)]
        async with running_worker(queue, {ECHO: recording_handler([])}):
            for job in jobs:
                await wait_for_state(queue, job.id, JobState.COMPLETED)
        assert await queue.clean(0, JobState.COMPLETED, limit=3) == 3
        assert (await queue.get_stats()).completed == 1

    async def test_clean_of_an_unfinished_state_is_refused(self, queue: Any) -> None:
        with pytest.raises(InvalidOptionError):
            await queue.clean(0, JobState.WAITING)

    @pytest.mark.parametrize(
        ("call", "argument"),
        [
            (lambda queue: queue.clean(-1, JobState.COMPLETED), "grace_ms"),
            (lambda queue: queue.clean(0, JobState.FAILED, limit=-1), "limit"),
            (lambda queue: queue.clean(0, "bogus"), "state"),
            (lambda queue: queue.list_dead_letters(limit=-1), "limit"),
            (lambda queue: queue.list_dead_letters(offset=-1), "offset"),
            (lambda queue: queue.purge_dead_letters(-1), "older_than_ms"),
        ],
    )
    async def test_a_bad_operator_argument_is_refused_naming_it_and_nothing_changes(
        self, queue: Any, call: Callable[[Any], Awaitable[Any]], argument: str
    ) -> None:
        job = await queue.add(ECHO, {})
        with pytest.raises(InvalidOptionError) as raised:
            await call(queue)
        assert raised.value.field == argument
        assert await queue.get_stats() == QueueStats(waiting=1)
        assert (await queue.get_job(job.id)).state is JobState.WAITING

    # 10. stats ----------------------------------------------------------------------------------------------

    async def test_stats_count_every_state_exactly(self, queue: Any, other_client: Any) -> None:
        release = asyncio.Event()

        async def hold(payload: Any, ctx: Any) -> None:
            await release.wait()

        async def boom(payload: Any, ctx: Any) -> None:
            raise RuntimeError("no")

        done = await queue.add(OTHER, {})
        dead = await queue.add(FAIL, {}, JobOptions(attempts=1))
        async with running_worker(
            queue, {OTHER: recording_handler([]), FAIL: boom, ECHO: hold}, concurrency=1
        ):
            await wait_for_state(queue, done.id, JobState.COMPLETED)
            await wait_for_state(queue, dead.id, JobState.FAILED)
            active = await queue.add(ECHO, {})
            await wait_for_state(queue, active.id, JobState.ACTIVE)
            await queue.add_bulk([NewJob(ECHO, {"w": i}) for i in range(3)])
            await queue.add_bulk([NewJob(ECHO, {"d": i}, JobOptions(delay=60_000)) for i in range(2)])
            stats = await other_client.get_stats()
            assert (stats.waiting, stats.delayed, stats.active, stats.completed, stats.failed) == (
                3,
                2,
                1,
                1,
                1,
            )
            assert stats.paused is False
            release.set()

    # 11. dead letters ---------------------------------------------------------------------------------------

    async def _dead_letter(self, queue: Any, count: int, name: str = FAIL) -> list[str]:
        ids = []

        async def boom(payload: Any, ctx: Any) -> None:
            raise RuntimeError(f"failure of {ctx.job.data['i']}")

        async with running_worker(queue, {name: boom}):
            for index in range(count):
                job = await queue.add(name, {"i": index}, JobOptions(attempts=2))
                await wait_for_state(queue, job.id, JobState.FAILED)
                ids.append(job.id)
        return ids

    async def test_dead_letters_are_listed_newest_first_with_reason_and_attempts(self, queue: Any) -> None:
        ids = await self._dead_letter(queue, 3)
        letters = await queue.list_dead_letters()
        assert [letter.job_id for letter in letters] == list(reversed(ids))
        newest = letters[0]
        assert newest.reason == "RuntimeError: failure of 2"
        assert newest.attempts_made == 2
        assert newest.last_error is not None and "failure of 2" in newest.last_error
        assert newest.name == FAIL and newest.data == {"i": 2}
        assert [letter.job_id for letter in await queue.list_dead_letters(limit=1, offset=1)] == [ids[1]]

    async def test_reprocessing_a_dead_letter_puts_it_back_to_waiting_with_fresh_attempts(
        self, queue: Any
    ) -> None:
        [job_id] = await self._dead_letter(queue, 1)
        assert await queue.reprocess_dead_letter(job_id) is True
        job = await queue.get_job(job_id)
        assert (job.state, job.attempts_started, job.attempts_made) == (JobState.WAITING, 0, 0)
        assert await queue.list_dead_letters() == []
        async with running_worker(queue, {FAIL: recording_handler([])}):
            await wait_for_state(queue, job_id, JobState.COMPLETED)

    async def test_reprocessing_a_job_that_is_not_a_dead_letter_returns_false(self, queue: Any) -> None:
        job = await queue.add(ECHO, {})
        assert await queue.reprocess_dead_letter(job.id) is False
        assert await queue.reprocess_dead_letter("missing") is False

    async def test_reprocess_all_takes_only_the_dead_letters_matching_the_filter(self, queue: Any) -> None:
        failing = await self._dead_letter(queue, 2, FAIL)
        other = await self._dead_letter(queue, 1, OTHER)
        assert await queue.reprocess_dead_letters(DeadLetterFilter(name=FAIL)) == 2
        assert [letter.job_id for letter in await queue.list_dead_letters()] == other
        for job_id in failing:
            assert (await queue.get_job(job_id)).state is JobState.WAITING
        assert await queue.reprocess_dead_letters() == 1

    async def test_purging_dead_letters_deletes_only_the_old_ones(self, queue: Any) -> None:
        old = await self._dead_letter(queue, 2)
        await asyncio.sleep(0.3)
        recent = await self._dead_letter(queue, 1)
        assert await queue.purge_dead_letters(200) == 2
        assert [letter.job_id for letter in await queue.list_dead_letters()] == recent
        assert await queue.get_job(old[0]) is None

    async def test_failed_jobs_are_kept_in_dead_letters_by_default_policy(self, queue: Any) -> None:
        ids = await self._dead_letter(queue, 1)
        assert (await queue.get_stats()).failed == 1
        assert (await queue.get_job(ids[0])).state is JobState.FAILED

    async def test_retention_keep_newest_n_applies_to_dead_letters(self, queue: Any) -> None:
        async def boom(payload: Any, ctx: Any) -> None:
            raise RuntimeError("x")

        async with running_worker(queue, {FAIL: boom}):
            jobs = [
                await queue.add(FAIL, {"i": i}, JobOptions(attempts=1, remove_on_fail=KeepJobs(count=2)))
                for i in range(4)
            ]
            await eventually(lambda: _all_gone_or_failed(queue, [j.id for j in jobs]), message="all failed")
        assert (await queue.get_stats()).failed == 2

    async def test_random_mix_of_operations_keeps_counts_consistent(
        self, queue: Any, other_client: Any
    ) -> None:
        rng = random.Random(7)
        ids = []
        for index in range(40):
            options = JobOptions(delay=rng.choice([0, 0, 60_000]), priority=rng.randint(1, 10))
            ids.append((await queue.add(ECHO, {"i": index}, options)).id)
        for job_id in rng.sample(ids, 10):
            await other_client.remove_job(job_id)
        stats = await queue.get_stats()
        states = [job.state for job_id in ids if (job := await other_client.get_job(job_id)) is not None]
        assert stats.waiting == states.count(JobState.WAITING)
        assert stats.delayed == states.count(JobState.DELAYED)
        assert stats.total == len(states) == 30


async def _all_gone_or_failed(queue: Any, ids: list[str]) -> bool:
    for job_id in ids:
        job = await queue.get_job(job_id)
        if job is not None and job.state is not JobState.FAILED:
            return False
    return True
