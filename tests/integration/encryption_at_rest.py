"""The scenario every broker's raw-data encryption test runs (ADR 0023): jobs of an encrypted queue
in every state, a key rotation, then the broker's raw data read with the broker's own client.

``store_encrypted_jobs`` leaves a waiting, a delayed, a completed and a dead-lettered job whose
payloads hold ``SECRET_CARD``, rotated from key k1 to k2. The caller reads everything the broker
holds for the queue and checks ``assert_no_plaintext``.
"""

from __future__ import annotations

import base64
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from application.encryption.keys import KeyRing, PayloadKey
from application.encryption.policy import PayloadEncryption
from application.encryption.rotation import rotate_payloads
from application.queue_backend import QueueBackend
from backbone.testing.contract.helpers import (
    ECHO,
    FAIL,
    contract_job_types,
    fast_defaults,
    running_worker,
    wait_for_state,
)
from backbone.testing.contract.support import BrokerUnderTest
from domain.queue.context import JobContext
from domain.queue.errors import PermanentError
from domain.queue.job import JobState
from domain.queue.options import JobOptions

SECRET_CARD = "4111-1111-1111-1111"
ENVELOPE_MARK = b"$encrypted"


@dataclass(frozen=True)
class StoredScenario:
    handle: QueueBackend  # the producer's handle (keys k1, k2): close it
    job_ids: tuple[str, ...]
    secrets: tuple[bytes, ...]  # the keys' base64 forms: must not appear in any log either


async def store_encrypted_jobs(contract: BrokerUnderTest, queue: str) -> StoredScenario:
    old, new = PayloadKey("k1", os.urandom(32)), PayloadKey("k2", os.urandom(32))
    before = PayloadEncryption(KeyRing([old]), queues=[queue])
    handle = await contract.open_queue(queue, contract_job_types(), fast_defaults(), encryption=before)
    dead = await handle.add(FAIL, {"card": SECRET_CARD, "state": "dead"}, JobOptions(attempts=1))
    done = await handle.add(ECHO, {"card": SECRET_CARD, "state": "done"})

    async def refuses(payload: Any, ctx: JobContext) -> None:
        raise PermanentError(f"refused card ending {payload['card'][-4:]}")

    async def echo(payload: Any, ctx: JobContext) -> Any:
        return {"handled": True}

    async with running_worker(handle, {FAIL: refuses, ECHO: echo}, encryption=before):
        await wait_for_state(handle, dead.id, JobState.FAILED)
        await wait_for_state(handle, done.id, JobState.COMPLETED)
    waiting = await handle.add(ECHO, {"card": SECRET_CARD, "state": "waiting"})
    delayed = await handle.add(ECHO, {"card": SECRET_CARD, "state": "delayed"}, JobOptions(delay=3_600_000))
    during = PayloadEncryption(KeyRing([old, new]), queues=[queue])
    rotator = await contract.open_queue(queue, contract_job_types(), fast_defaults(), encryption=during)
    try:
        report = await rotate_payloads(rotator, during)
    finally:
        await rotator.close()
    assert report.rotated == 4, report
    secrets = tuple(base64.b64encode(key.secret) for key in (old, new))
    return StoredScenario(handle, (dead.id, done.id, waiting.id, delayed.id), secrets)


def assert_no_plaintext(raw: Iterable[bytes], scenario: StoredScenario) -> None:
    """Nothing the broker holds has the plaintext or a key; the envelopes are really there."""
    blobs = list(raw)
    assert blobs, "the raw read found nothing at all"
    assert not [blob for blob in blobs if SECRET_CARD.encode() in blob]
    assert not [blob for blob in blobs for secret in scenario.secrets if secret in blob]
    assert any(ENVELOPE_MARK in blob for blob in blobs), "no encrypted envelope found in the raw data"


def decompressed_snapshots(blobs: Iterable[bytes]) -> list[bytes]:
    """The state of each snapshot record that is a whole zlib blob (a snapshot small enough for one
    chunk, as here): the machine's records, with every job's stored data, as the snapshot keeps them."""
    states = []
    for blob in blobs:
        try:
            states.append(zlib.decompress(blob))
        except zlib.error:
            continue  # a head record or another chunk
    assert states, "no snapshot could be read back"
    assert all(ENVELOPE_MARK in state for state in states), "a snapshot holds no encrypted envelope"
    return states


def assert_log_has_no_plaintext(log_text: str, scenario: StoredScenario) -> None:
    assert SECRET_CARD not in log_text
    assert not [secret for secret in scenario.secrets if secret.decode() in log_text]
