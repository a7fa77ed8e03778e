from __future__ import annotations

from bootstrap.settings import load_settings
from bootstrap.topology import SEED_QUEUES, Topology
from domain.queue.options import BackoffType

SEED_QUEUE_NAMES = {
    "ingress-events", "orchestration-flows", "integration-tasks", "notifications", "analytics-events",
    "transaction-processing", "transaction-settlement", "notification-email", "notification-push",
    "notification-sms", "slack-messages", "slack-alerts", "data-processing", "file-processing",
    "message-delivery", "message-notification", "message-indexing", "message-encryption",
    "batch-message-sending", "message-cleanup",
}  # fmt: skip


def test_the_table_holds_every_queue_of_the_seeds() -> None:
    assert {queue.name for queue in SEED_QUEUES} == SEED_QUEUE_NAMES


def test_seed_001_queues_keep_their_concurrency_attempts_backoff_and_seed_000_timeout() -> None:
    ingress = Topology().for_queue("ingress-events")
    assert ingress.concurrency == 20
    assert ingress.defaults.attempts == 5
    assert ingress.defaults.backoff.type is BackoffType.EXPONENTIAL
    assert ingress.defaults.backoff.delay == 2000
    assert ingress.defaults.timeout == 30_000
    assert Topology().for_queue("orchestration-flows").defaults.timeout == 120_000
    assert Topology().for_queue("analytics-events").defaults.backoff.delay == 60_000


def test_seed_003_cleanup_queue_uses_a_fixed_ten_second_backoff_and_one_worker() -> None:
    cleanup = Topology().for_queue("message-cleanup")
    assert cleanup.concurrency == 1
    assert cleanup.defaults.attempts == 2
    assert cleanup.defaults.backoff.type is BackoffType.FIXED
    assert cleanup.defaults.backoff.delay == 10_000
    assert cleanup.defaults.timeout == 10 * 60_000


def test_an_unknown_queue_gets_the_seed_002_generic_default() -> None:
    other = Topology().for_queue("reports-export")
    assert other.name == "reports-export"
    assert other.concurrency == 10
    assert other.defaults.attempts == 5
    assert other.defaults.backoff.delay == 2000
    assert other.defaults.backoff.max_delay == 15 * 60_000
    assert other.defaults.backoff.jitter > 0


def test_settings_override_only_the_fields_they_name() -> None:
    settings = load_settings(
        queues={
            "notification-email": {
                "concurrency": 2,
                "backoff": {"delay_ms": 50},
                "rate_limit": {"max": 5, "duration_ms": 1000},
            }
        }
    )
    email = Topology.from_overrides(settings.queues).for_queue("notification-email")
    assert email.concurrency == 2
    assert email.defaults.backoff.delay == 50
    assert email.defaults.backoff.max_delay == 15 * 60_000
    assert email.defaults.attempts == 5
    assert email.rate_limit is not None and email.rate_limit.max == 5


def test_an_override_for_a_new_queue_adds_it_to_the_table() -> None:
    settings = load_settings(queues={"reports-export": {"attempts": 9}})
    topology = Topology.from_overrides(settings.queues)
    assert "reports-export" in topology
    assert topology.for_queue("reports-export").defaults.attempts == 9
