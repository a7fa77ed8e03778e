"""The flaky wrappers fail a deterministic set of messages, transiently or for good."""

from __future__ import annotations

import pytest

from adapters.outbound.flaky import FailureKind, FailurePlan, FlakyEmailSender, FlakySlackClient
from adapters.outbound.notification_senders import InMemoryNotificationSender
from adapters.outbound.slack_clients import InMemorySlackClient
from domain.notifications.messages import EmailMessage
from domain.notifications.ports import RecipientRejectedError, SenderUnavailableError
from domain.slack.ports import SlackMessage, SlackRejectedError

IDS = [f"email:n-{i}" for i in range(2000)]


def test_the_same_seed_selects_the_same_messages() -> None:
    plan = FailurePlan(fraction=0.3, seed=7)

    assert [plan.selects(i) for i in IDS] == [FailurePlan(fraction=0.3, seed=7).selects(i) for i in IDS]
    assert [plan.selects(i) for i in IDS] != [FailurePlan(fraction=0.3, seed=8).selects(i) for i in IDS]


def test_the_fraction_selects_about_that_share_of_messages() -> None:
    chosen = sum(FailurePlan(fraction=0.3, seed=1).selects(i) for i in IDS)

    assert 0.25 * len(IDS) < chosen < 0.35 * len(IDS)


def test_listed_messages_are_always_selected_and_fraction_zero_selects_no_other() -> None:
    plan = FailurePlan(message_ids=frozenset({"email:n-5"}))

    assert [i for i in IDS if plan.selects(i)] == ["email:n-5"]


async def test_a_transient_failure_happens_the_planned_number_of_times_then_the_message_goes_through() -> (
    None
):
    inner = InMemoryNotificationSender()
    sender = FlakyEmailSender(inner, FailurePlan(fraction=1.0, failures_per_message=2, retry_delay_ms=50))
    message = EmailMessage("email:n-1", "user-1", "tpl", "k", "corr-1")

    for _ in range(2):
        with pytest.raises(SenderUnavailableError) as failure:
            await sender.send_email(message)
        assert failure.value.retry_delay_ms == 50
    await sender.send_email(message)

    assert inner.emails == [message]


async def test_a_permanent_failure_happens_every_time() -> None:
    inner = InMemoryNotificationSender()
    sender = FlakyEmailSender(inner, FailurePlan(fraction=1.0, kind=FailureKind.PERMANENT))
    message = EmailMessage("email:n-1", "user-1", "tpl", "k", "corr-1")

    for _ in range(3):
        with pytest.raises(RecipientRejectedError):
            await sender.send_email(message)

    assert inner.emails == []


async def test_the_flaky_slack_client_rejects_with_slack_errors() -> None:
    inner = InMemorySlackClient()
    client = FlakySlackClient(
        inner, FailurePlan(message_ids=frozenset({"job-1"}), kind=FailureKind.PERMANENT)
    )
    await client.post(SlackMessage("job-2", "#ops", "fine", "c"))

    with pytest.raises(SlackRejectedError):
        await client.post(SlackMessage("job-1", "#ops", "doomed", "c"))

    assert [m.message_id for m in inner.posted] == ["job-2"]


@pytest.mark.parametrize("changes", [{"fraction": 1.5}, {"fraction": -0.1}, {"failures_per_message": 0}])
def test_an_impossible_plan_is_refused(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        FailurePlan(**changes)  # type: ignore[arg-type]
