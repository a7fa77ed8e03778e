"""JSON-line senders, Slack client and ledger: what ends up in the stream or file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from adapters.outbound.json_lines import JsonLinesSink
from adapters.outbound.ledgers import InMemoryLedger, JsonLinesLedger
from adapters.outbound.notification_senders import JsonLinesNotificationSender
from adapters.outbound.slack_clients import JsonLinesSlackClient
from domain.notifications.messages import EmailMessage, PushMessage, SmsMessage
from domain.notifications.ports import SenderUnavailableError
from domain.slack.ports import SlackMessage
from domain.transactions.model import EntryKind, EntryOutcome, LedgerEntry
from domain.transactions.ports import LedgerUnavailableError


def entry(
    tx_id: str = "tx-1", kind: EntryKind = EntryKind.SETTLEMENT, reasons: tuple[str, ...] = ()
) -> LedgerEntry:
    return LedgerEntry(
        tx_id=tx_id,
        kind=kind,
        outcome=EntryOutcome.REJECTED if reasons else EntryOutcome.ACCEPTED,
        amount_minor=5000,
        currency="USD",
        recorded_at=1_760_000_000_000,
        job_id=f"{kind}-{tx_id}",
        correlation_id="corr-1",
        reasons=reasons,
    )


async def test_each_message_is_one_json_line_naming_its_channel() -> None:
    stream = io.StringIO()
    sender = JsonLinesNotificationSender(JsonLinesSink(stream))
    await sender.send_email(
        EmailMessage("email:n-1", "user-1", "tpl", "payment.completed", "corr-1", {"a": 1})
    )
    await sender.send_sms(SmsMessage("sms:n-2", "user-1", "+14155550100", "héllo", "corr-1"))
    await sender.send_push(PushMessage("push:n-3", "user-1", "Title", "Body", "corr-1"))

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["channel"], line["message_id"]) for line in lines] == [
        ("email", "email:n-1"),
        ("sms", "sms:n-2"),
        ("push", "push:n-3"),
    ]
    assert lines[0]["template_data"] == {"a": 1}
    assert lines[1]["text"] == "héllo"


async def test_a_file_sink_appends_to_what_is_already_there(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    path.write_text('{"earlier":true}\n', encoding="utf-8")
    await JsonLinesNotificationSender(JsonLinesSink(path)).send_push(
        PushMessage("push:1", "u", "t", "b", "c")
    )

    assert [json.loads(line).get("message_id") for line in path.read_text(encoding="utf-8").splitlines()] == [
        None,
        "push:1",
    ]


async def test_a_sender_whose_file_cannot_be_written_is_retryable(tmp_path: Path) -> None:
    sender = JsonLinesNotificationSender(JsonLinesSink(tmp_path))  # a directory: not writable as a file

    with pytest.raises(SenderUnavailableError, match="email sink not writable"):
        await sender.send_email(EmailMessage("email:n-1", "user-1", "tpl", "k", "corr-1"))


async def test_the_json_lines_slack_client_writes_the_post(tmp_path: Path) -> None:
    path = tmp_path / "slack.jsonl"
    await JsonLinesSlackClient(JsonLinesSink(path)).post(
        SlackMessage("job-1", "#ops", "deploy done", "corr-1")
    )

    assert json.loads(path.read_text(encoding="utf-8")) == {
        "message_id": "job-1",
        "channel": "#ops",
        "text": "deploy done",
        "correlation_id": "corr-1",
    }


async def test_a_file_ledger_gives_back_every_entry_of_a_transaction_from_another_instance(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.jsonl"
    writer = JsonLinesLedger(path)
    await writer.record(entry("tx-1"))
    await writer.record(entry("tx-2"))
    await writer.record(entry("tx-1", EntryKind.REFUND, reasons=("transaction is not settled",)))

    entries = await JsonLinesLedger(path).entries_for("tx-1")

    assert entries == [
        entry("tx-1"),
        entry("tx-1", EntryKind.REFUND, reasons=("transaction is not settled",)),
    ]


async def test_a_file_ledger_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = JsonLinesLedger(path)
    await ledger.record(entry("tx-1"))
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"tx_id":"tx-1","kind":"ref')  # a writer died mid-line

    assert await ledger.entries_for("tx-1") == [entry("tx-1")]


async def test_a_missing_ledger_file_is_an_empty_ledger(tmp_path: Path) -> None:
    assert await JsonLinesLedger(tmp_path / "none.jsonl").entries_for("tx-1") == []


async def test_a_ledger_file_that_cannot_be_written_is_retryable(tmp_path: Path) -> None:
    with pytest.raises(LedgerUnavailableError, match="ledger file not writable"):
        await JsonLinesLedger(tmp_path).record(entry())


async def test_the_in_memory_ledger_filters_by_transaction() -> None:
    ledger = InMemoryLedger()
    await ledger.record(entry("tx-1"))
    await ledger.record(entry("tx-2"))

    assert await ledger.entries_for("tx-2") == [entry("tx-2")]
