"""Contract behaviour 29: payload encryption at rest, the same on every broker (ADR 0023).

The producer's handle seals the payloads of an encrypted queue before the adapter sees them; what
the broker stores (read here through a handle without keys) holds only the envelope with its key
id. A handle or worker with the key opens it; one without says which key is missing; a ciphertext
changed, cut short or moved to another job dead-letters that job alone; rotation re-seals waiting,
delayed and dead-lettered jobs with the newest key.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest

from application.encryption.envelope import ENVELOPE_FIELD, is_sealed, not_loaded_text, sealed_key_id
from application.encryption.keys import KeyRing, PayloadKey
from application.encryption.policy import PayloadEncryption
from application.encryption.rotation import rotate_payloads
from application.jobs.job_types import JobTypes
from backbone.testing.contract.helpers import (
    ECHO,
    FAIL,
    fast_defaults,
    running_worker,
    wait_for_state,
)
from backbone.testing.contract.support import BrokerUnderTest
from domain.queue.context import JobContext
from domain.queue.errors import PermanentError
from domain.queue.job import JobState
from domain.queue.options import JobOptions

SECRET_CARD = "4111-1111-1111-1111"  # the plaintext no broker may hold
HOUR_MS = 3_600_000


def _key(key_id: str) -> PayloadKey:
    return PayloadKey(key_id, os.urandom(32))


def _sealing(queue: str, *keys: PayloadKey) -> PayloadEncryption:
    return PayloadEncryption(KeyRing(keys), queues=[queue])


def _recording(seen: list[Any]) -> Any:
    async def handle(payload: Any, ctx: JobContext) -> Any:
        seen.append(payload)
        return {"ok": True}

    return handle


def _tampered(data_json: str, how: str) -> str:
    envelope = json.loads(data_json)
    sealed = bytearray(base64.b64decode(envelope[ENVELOPE_FIELD]["ct"]))
    if how == "flipped":
        sealed[len(sealed) // 2] ^= 0x01
    else:
        sealed = sealed[: len(sealed) - 5]
    envelope[ENVELOPE_FIELD]["ct"] = base64.b64encode(bytes(sealed)).decode("ascii")
    return json.dumps(envelope)


class EncryptionBehaviours:
    """Each test opens its own handles: one with keys (the producer's process) and one without."""

    @pytest.fixture
    async def open_handle(self, broker: BrokerUnderTest, queue_name: str, job_types: JobTypes) -> Any:
        opened: list[Any] = []

        async def open_handle(encryption: PayloadEncryption | None = None) -> Any:
            handle = await broker.open_queue(queue_name, job_types, fast_defaults(), encryption=encryption)
            opened.append(handle)
            return handle

        yield open_handle
        for handle in opened:
            await handle.close()

    # 29. payload encryption at rest ------------------------------------------------------------------

    async def test_an_encrypted_payload_reaches_the_handler_and_get_job_in_plaintext_while_the_broker_holds_only_its_envelope(
        self, open_handle: Any, queue_name: str
    ) -> None:
        encryption = _sealing(queue_name, _key("k1"))
        producer = await open_handle(encryption)
        stored_view = await open_handle()  # no keys: what the broker holds
        job = await producer.add(ECHO, {"card": SECRET_CARD})
        assert job.data == {"card": SECRET_CARD}
        assert (await producer.get_job(job.id)).data == {"card": SECRET_CARD}
        stored = (await stored_view.get_job(job.id)).data
        assert is_sealed(stored) and sealed_key_id(stored) == "k1"
        assert SECRET_CARD not in json.dumps(stored)
        seen: list[Any] = []
        async with running_worker(producer, {ECHO: _recording(seen)}, encryption=encryption):
            await wait_for_state(producer, job.id, JobState.COMPLETED)
        assert seen == [{"card": SECRET_CARD}]

    async def test_a_reader_without_the_key_is_told_which_key_is_not_loaded(
        self, open_handle: Any, queue_name: str
    ) -> None:
        producer = await open_handle(_sealing(queue_name, _key("k1")))
        other_keys = await open_handle(PayloadEncryption(KeyRing([_key("k9")])))
        job = await producer.add(ECHO, {"card": SECRET_CARD})
        seen = (await other_keys.get_job(job.id)).data
        assert is_sealed(seen) and not_loaded_text(seen) == "encrypted, key k1 not loaded"

    async def test_a_worker_without_the_key_dead_letters_the_job_saying_which_key_it_lacks(
        self, open_handle: Any, queue_name: str
    ) -> None:
        producer = await open_handle(_sealing(queue_name, _key("k1")))
        job = await producer.add(ECHO, {"card": SECRET_CARD}, JobOptions(attempts=3))
        async with running_worker(producer, {ECHO: _recording([])}):
            failed = await wait_for_state(producer, job.id, JobState.FAILED)
        assert failed.attempts_made == 1
        assert failed.failed_reason == "PermanentError: encrypted, key k1 not loaded in this worker"
        [letter] = await producer.list_dead_letters()
        assert SECRET_CARD not in letter.reason and letter.data == {"card": SECRET_CARD}

    async def test_a_tampered_truncated_or_swapped_ciphertext_dead_letters_that_job_and_the_others_complete(
        self, open_handle: Any, queue_name: str
    ) -> None:
        encryption = _sealing(queue_name, _key("k1"))
        producer = await open_handle(encryption)
        options = JobOptions(attempts=3)
        flipped, cut, swapped, good = [
            await producer.add(ECHO, {"card": SECRET_CARD, "n": n}, options) for n in range(4)
        ]
        good_json: dict[str, str] = {}

        def keep_good(job_id: str, name: str, data_json: str) -> str | None:
            good_json[job_id] = data_json
            return None

        await producer.rewrite_payloads(keep_good)

        def tamper(job_id: str, name: str, data_json: str) -> str | None:
            if job_id == flipped.id:
                return _tampered(data_json, "flipped")
            if job_id == cut.id:
                return _tampered(data_json, "truncated")
            if job_id == swapped.id:
                return good_json[good.id]  # a valid ciphertext, sealed for another job
            return None

        assert await producer.rewrite_payloads(tamper) == 3
        seen: list[Any] = []
        async with running_worker(producer, {ECHO: _recording(seen)}, encryption=encryption):
            for bad in (flipped, cut, swapped):
                failed = await wait_for_state(producer, bad.id, JobState.FAILED)
                assert failed.attempts_made == 1
                assert "failed authentication" in (failed.failed_reason or "")
            await wait_for_state(producer, good.id, JobState.COMPLETED)
        assert seen == [{"card": SECRET_CARD, "n": 3}]

    async def test_rotation_reseals_waiting_delayed_and_dead_lettered_jobs_with_the_newest_key(
        self, open_handle: Any, queue_name: str
    ) -> None:
        old, new = _key("k1"), _key("k2")
        before = _sealing(queue_name, old)
        producer = await open_handle(before)
        dead = await producer.add(FAIL, {"card": SECRET_CARD, "n": 3}, JobOptions(attempts=1))

        async def refuses(payload: Any, ctx: JobContext) -> None:
            raise PermanentError("refused")

        async with running_worker(producer, {FAIL: refuses}, encryption=before):
            await wait_for_state(producer, dead.id, JobState.FAILED)
        waiting = await producer.add(ECHO, {"card": SECRET_CARD, "n": 1})
        delayed = await producer.add(ECHO, {"card": SECRET_CARD, "n": 2}, JobOptions(delay=HOUR_MS))

        during = _sealing(queue_name, old, new)  # both keys loaded: the newest seals
        report = await rotate_payloads(await open_handle(during), during)
        assert (report.rotated, report.key_id) == (3, "k2")

        stored_view = await open_handle()
        for job in (waiting, delayed, dead):
            stored = (await stored_view.get_job(job.id)).data
            assert sealed_key_id(stored) == "k2" and SECRET_CARD not in json.dumps(stored)
        after = _sealing(queue_name, new)  # the old key is dropped
        reader = await open_handle(after)
        assert (await reader.get_job(delayed.id)).data == {"card": SECRET_CARD, "n": 2}
        [letter] = await reader.list_dead_letters()
        assert letter.data == {"card": SECRET_CARD, "n": 3}
        seen: list[Any] = []
        async with running_worker(reader, {ECHO: _recording(seen)}, encryption=after):
            await wait_for_state(reader, waiting.id, JobState.COMPLETED)
        assert seen == [{"card": SECRET_CARD, "n": 1}]
        again = await rotate_payloads(reader, after)
        assert (again.rotated, again.current) == (0, 3)  # nothing left to rotate (completed is current)

    async def test_a_rotation_leaves_payloads_sealed_with_a_key_it_does_not_hold(
        self, open_handle: Any, queue_name: str
    ) -> None:
        producer = await open_handle(_sealing(queue_name, _key("k1")))
        job = await producer.add(ECHO, {"card": SECRET_CARD})
        elsewhere = _sealing(queue_name, _key("k2"))
        report = await rotate_payloads(await open_handle(elsewhere), elsewhere)
        assert (report.rotated, report.not_loaded) == (0, {"k1": 1})
        assert sealed_key_id((await (await open_handle()).get_job(job.id)).data) == "k1"
        assert (await producer.get_job(job.id)).data == {"card": SECRET_CARD}
