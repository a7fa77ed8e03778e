"""``backbone keys`` and the readers of encrypted payloads (``backbone job``), run in-process on one
shared ``MemoryBroker`` standing in for a broker that outlives each command (ADR 0023)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable

import pytest
from dependency_injector import providers

from adapters.memory import MemoryBroker
from bootstrap.cli import main
from bootstrap.container import Container

QUEUE = "transaction-processing"
SETTLE = "transaction.settlement.v1"
DATA = '{"tx_id": "tx-secret-42", "amount_minor": 500, "currency": "EUR"}'
K1 = "k1:" + base64.b64encode(os.urandom(32)).decode()
K2 = "k2:" + base64.b64encode(os.urandom(32)).decode()

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    broker = MemoryBroker()

    def hook(container: Container) -> None:
        broker.reopen()
        container.broker.override(providers.Object(broker))

    def invoke(*argv: str, keys: str | None = None, encrypt: bool = False) -> tuple[int, str, str]:
        monkeypatch.delenv("BACKBONE_ENCRYPTION__KEYS", raising=False)
        monkeypatch.delenv("BACKBONE_ENCRYPTION__QUEUES", raising=False)
        if keys is not None:
            monkeypatch.setenv("BACKBONE_ENCRYPTION__KEYS", keys)
        if encrypt:
            monkeypatch.setenv("BACKBONE_ENCRYPTION__QUEUES", QUEUE)
        capsys.readouterr()
        code = main(["--log-level", "DEBUG", *argv], container_hook=hook)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def _enqueue(run: Run) -> str:
    code, out, err = run("enqueue", QUEUE, SETTLE, "--data", DATA, keys=K1, encrypt=True)
    assert code == 0, err
    job = json.loads(out)
    assert job["data"]["tx_id"] == "tx-secret-42"  # the producer holds the key: it sees its own data
    return str(job["id"])


def test_backbone_job_shows_the_plaintext_where_the_key_is_loaded_and_says_which_key_is_missing_elsewhere(
    run: Run,
) -> None:
    job_id = _enqueue(run)
    code, out, _ = run("job", QUEUE, job_id, keys=K1)
    assert code == 0 and json.loads(out)["data"]["tx_id"] == "tx-secret-42"
    code, out, _ = run("job", QUEUE, job_id)
    assert code == 0 and json.loads(out)["data"] == "encrypted, key k1 not loaded"
    assert "tx-secret-42" not in out


def test_keys_rotate_reseals_with_the_newest_key_so_the_old_one_can_be_dropped(run: Run) -> None:
    job_id = _enqueue(run)
    code, out, _ = run("keys", "rotate", QUEUE, "--json", keys=f"{K1},{K2}")
    assert code == 0
    assert json.loads(out) == {
        "queue": QUEUE,
        "key_id": "k2",
        "rotated": 1,
        "current": 0,
        "not_loaded": {},
        "unreadable": 0,
    }
    code, out, _ = run("job", QUEUE, job_id, keys=K2)
    assert json.loads(out)["data"]["tx_id"] == "tx-secret-42"
    code, out, _ = run("job", QUEUE, job_id, keys=K1)
    assert json.loads(out)["data"] == "encrypted, key k2 not loaded"


def test_keys_rotate_without_the_old_key_reports_what_it_left_and_exits_1(run: Run) -> None:
    _enqueue(run)
    code, out, _ = run("keys", "rotate", QUEUE, keys=K2)
    assert code == 1
    assert out.strip() == (
        f"{QUEUE}: 0 payloads sealed with key k2; 0 already were; left sealed (key not loaded): 1 with key k1"
    )


def test_no_command_prints_or_logs_a_key_secret_or_the_plaintext_of_a_sealed_payload_it_cannot_open(
    run: Run,
) -> None:
    job_id = _enqueue(run)
    outputs = [
        run("keys", "list", keys=f"{K1},{K2}"),
        run("keys", "rotate", QUEUE, keys=f"{K1},{K2}"),
        run("job", QUEUE, job_id),
        run("stats", QUEUE, keys=K1),
    ]
    assert outputs[0][1].splitlines()[0] == "keys (oldest first): k1, k2; newest, which seals: k2"
    for _, out, err in outputs:
        for secret in (K1.split(":")[1], K2.split(":")[1]):
            assert secret not in out and secret not in err
    assert "tx-secret-42" not in outputs[2][1] + outputs[2][2]


def test_a_malformed_key_is_refused_with_one_line_that_does_not_echo_it(run: Run) -> None:
    code, out, err = run("stats", QUEUE, keys="k1:bm90LWEta2V5")  # base64 of 10 bytes
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "backbone: error: encryption.keys: payload key k1: must be exactly 32 bytes (AES-256)"
    )
    assert "bm90LWEta2V5" not in out + err


def test_an_encrypted_queue_without_any_key_is_refused_naming_the_setting(run: Run) -> None:
    code, _, err = run("stats", QUEUE, encrypt=True)
    assert code == 2
    assert "encryption.keys: must be set" in err


def test_keys_generate_prints_one_key_line_that_loads(run: Run) -> None:
    code, out, _ = run("keys", "generate", "--id", "2027-01")
    key_id, _, secret = out.strip().partition(":")
    assert code == 0 and key_id == "2027-01" and len(base64.b64decode(secret)) == 32
    assert run("stats", QUEUE, keys=out.strip(), encrypt=True)[0] == 0
