"""Payload keys, the AES-256-GCM envelope and the policy of what is sealed (ADR 0023)."""

from __future__ import annotations

import base64
import json
import os

import pytest

from application.encryption.cipher import PayloadCipher
from application.encryption.envelope import (
    ENVELOPE_FIELD,
    KeyNotLoadedError,
    TamperedPayloadError,
    is_sealed,
    sealed_key_id,
)
from application.encryption.keys import KeyRing, PayloadKey, PayloadKeyError, load_key_file, parse_keys
from application.encryption.policy import PayloadEncryption
from application.jobs.job_factory import JobFactory
from application.jobs.job_types import JobTypes
from domain.queue.metadata import JobMetadata

SECRET = os.urandom(32)
PLAIN = '{"card":"4111-1111-1111-1111"}'


def _cipher(*key_ids: str) -> PayloadCipher:
    return PayloadCipher(
        KeyRing(PayloadKey(kid, SECRET if kid == "k1" else os.urandom(32)) for kid in key_ids)
    )


def test_a_key_never_shows_its_secret_in_repr_or_str() -> None:
    key = PayloadKey("k1", SECRET)
    assert repr(key) == str(key) == "PayloadKey('k1', secret=***)"
    assert SECRET.hex() not in repr(KeyRing([key]))


def test_keys_parse_from_comma_separated_or_line_entries_oldest_first() -> None:
    encoded = base64.b64encode(SECRET).decode()
    keys = parse_keys(f"old:{encoded}, # a comment\nnew:{base64.urlsafe_b64encode(SECRET).decode()}")
    ring = KeyRing(keys)
    assert ring.ids() == ["old", "new"] and ring.newest.key_id == "new" and ring.newest.secret == SECRET


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k1:" + base64.b64encode(b"short").decode(), "payload key k1: must be exactly 32 bytes (AES-256)"),
        ("k1:not base64!", "payload key k1: secret must be base64 of 32 bytes"),
        ("bare-secret-without-id", "keys entry 1: must be 'key-id:base64-secret'"),
        ("bad id:" + base64.b64encode(SECRET).decode(), "payload key id 'bad id' must be 1-64 letters"),
    ],
)
def test_a_bad_key_entry_is_refused_naming_the_entry_never_the_secret(text: str, message: str) -> None:
    with pytest.raises(PayloadKeyError) as refused:
        parse_keys(text)
    assert str(refused.value).startswith(message)
    secret_part = text.partition(":")[2] or text
    assert secret_part not in str(refused.value)


def test_the_same_key_id_twice_is_refused() -> None:
    with pytest.raises(PayloadKeyError, match="'k1' is given twice"):
        KeyRing([PayloadKey("k1", SECRET), PayloadKey("k1", os.urandom(32))])


def test_a_key_file_loads_one_key_per_line(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "keys"
    path.write_text(f"# rotated 2026-12\nk1:{base64.b64encode(SECRET).decode()}\n", encoding="utf-8")
    assert [key.key_id for key in load_key_file(path)] == ["k1"]
    with pytest.raises(PayloadKeyError, match="cannot be read"):
        load_key_file(path.with_name("missing"))


def test_a_sealed_payload_names_its_key_and_holds_no_plaintext_and_opens_back() -> None:
    cipher = _cipher("k1")
    sealed = json.loads(cipher.seal("q", "a.b.v1", "job-1", PLAIN))
    assert is_sealed(sealed) and sealed_key_id(sealed) == "k1"
    assert "4111" not in json.dumps(sealed)
    assert cipher.open("q", "a.b.v1", "job-1", sealed) == {"card": "4111-1111-1111-1111"}


def test_the_same_payload_sealed_twice_gives_two_ciphertexts() -> None:
    cipher = _cipher("k1")
    assert cipher.seal("q", "a.b.v1", "job-1", PLAIN) != cipher.seal("q", "a.b.v1", "job-1", PLAIN)


@pytest.mark.parametrize(
    ("queue", "name", "job_id"),
    [("other-queue", "a.b.v1", "job-1"), ("q", "a.other.v1", "job-1"), ("q", "a.b.v1", "job-2")],
)
def test_a_ciphertext_opens_only_for_the_queue_job_name_and_job_id_it_was_sealed_for(
    queue: str, name: str, job_id: str
) -> None:
    cipher = _cipher("k1")
    sealed = json.loads(cipher.seal("q", "a.b.v1", "job-1", PLAIN))
    with pytest.raises(TamperedPayloadError, match="failed authentication"):
        cipher.open(queue, name, job_id, sealed)


def test_a_malformed_envelope_is_refused_as_tampered() -> None:
    cipher = _cipher("k1")
    sealed = json.loads(cipher.seal("q", "a.b.v1", "job-1", PLAIN))
    sealed[ENVELOPE_FIELD]["iv"] = "AAAA"
    with pytest.raises(TamperedPayloadError, match="malformed or truncated"):
        cipher.open("q", "a.b.v1", "job-1", sealed)
    with pytest.raises(TamperedPayloadError, match="version 1"):
        cipher.open("q", "a.b.v1", "job-1", {ENVELOPE_FIELD: {"v": 2}})


def test_a_payload_sealed_with_a_key_not_loaded_says_which_key() -> None:
    sealed = json.loads(_cipher("k1").seal("q", "a.b.v1", "job-1", PLAIN))
    with pytest.raises(KeyNotLoadedError, match=r"^encrypted, key k1 not loaded$"):
        _cipher("k2").open("q", "a.b.v1", "job-1", sealed)


def test_the_newest_key_seals_and_every_loaded_key_opens() -> None:
    old = PayloadKey("k1", SECRET)
    sealed_old = json.loads(PayloadCipher(KeyRing([old])).seal("q", "a.b.v1", "job-1", PLAIN))
    both = PayloadCipher(KeyRing([old, PayloadKey("k2", os.urandom(32))]))
    assert both.open("q", "a.b.v1", "job-1", sealed_old) == {"card": "4111-1111-1111-1111"}
    assert sealed_key_id(json.loads(both.seal("q", "a.b.v1", "job-1", PLAIN))) == "k2"


def test_encryption_asked_for_without_a_key_is_refused() -> None:
    with pytest.raises(ValueError, match=r"asked for \(payments\) but no payload key is loaded"):
        PayloadEncryption(None, queues=["payments"])


def test_the_job_factory_seals_only_the_job_names_or_queues_that_are_encrypted() -> None:
    encryption = PayloadEncryption(KeyRing([PayloadKey("k1", SECRET)]), job_names=["card.charge.v1"])
    factory = JobFactory("payments", JobTypes(strict=False), encryption=encryption)
    metadata = JobMetadata(correlation_id="c-1")
    charge = factory.draft("card.charge.v1", {"card": "4111"}, None, metadata, 1)
    receipt = factory.draft("card.receipt.v1", {"card": "4111"}, None, metadata, 1)
    assert sealed_key_id(json.loads(charge.data_json)) == "k1" and "4111" not in charge.data_json
    assert receipt.data_json == '{"card":"4111"}'
    assert encryption.open("payments", "card.charge.v1", charge.id, json.loads(charge.data_json)) == {
        "card": "4111"
    }


def test_data_shaped_like_an_envelope_is_refused_at_add_on_any_queue() -> None:
    from domain.queue.errors import InvalidPayloadError

    factory = JobFactory("plain", JobTypes(strict=False))
    with pytest.raises(InvalidPayloadError) as refused:
        factory.draft("a.b.v1", {ENVELOPE_FIELD: {"kid": "k1"}}, None, None, 1)
    assert (refused.value.field, refused.value.rule) == (
        "data",
        "must not be an object whose only key is '$encrypted' (reserved)",
    )
    assert factory.draft("a.b.v1", {ENVELOPE_FIELD: 1, "other": 2}, None, None, 1).data_json
