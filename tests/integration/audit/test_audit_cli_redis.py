"""``backbone`` commands against a real Redis: each command is its own container (as its own
process would be), so ``backbone audit`` reads what earlier commands wrote to the broker's stream."""

from __future__ import annotations

import json
import uuid

import pytest
from redis import Redis

from bootstrap.cli import main
from tests.harness.handle import BrokerHandle

QUEUE = "transaction-processing"


@pytest.fixture
def prefix(monkeypatch: pytest.MonkeyPatch) -> str:
    value = f"auditcli{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("BACKBONE_BROKER__KEY_PREFIX", value)
    return value


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_backbone_audit_reads_the_actions_earlier_commands_recorded_on_the_broker(
    redis_broker: BrokerHandle, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = redis_broker.url
    assert _run(capsys, "pause", QUEUE, "--broker", url, "--actor", "alice")[0] == 0
    assert _run(capsys, "resume", QUEUE, "--broker", url, "--actor", "bob")[0] == 0

    code, out, err = _run(capsys, "audit", "--broker", url, "--json", "--since", "1h")

    assert code == 0, err
    assert [(e["action"], e["actor"], e["queue"]) for e in json.loads(out)] == [
        ("pause", "alice", QUEUE),
        ("resume", "bob", QUEUE),
    ]


def test_a_command_whose_audit_write_fails_exits_1_and_its_action_stands(
    redis_broker: BrokerHandle, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client = Redis.from_url(redis_broker.url)
    try:
        client.set(f"{prefix}:audit", "not a stream")  # every XADD to it fails with WRONGTYPE
        code, _, err = _run(capsys, "pause", QUEUE, "--broker", redis_broker.url, "--actor", "alice")
        stats_code, out, _ = _run(capsys, "stats", QUEUE, "--broker", redis_broker.url, "--json")
    finally:
        client.delete(f"{prefix}:audit")
        client.close()

    assert code == 1
    assert f"pause of queue {QUEUE} was done (outcome ok), but its audit entry could not be written" in err
    assert "WRONGTYPE" in err
    assert stats_code == 0
    [stats] = json.loads(out)
    assert (stats["queue"], stats["paused"]) == (QUEUE, True)
