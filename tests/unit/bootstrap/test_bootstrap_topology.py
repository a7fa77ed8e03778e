"""The topology is what the enabled modules declare, with the settings' per-queue overrides on top."""

from __future__ import annotations

import pytest

from bootstrap.modules import ModuleCatalog, load_modules
from bootstrap.settings import DEFAULT_MODULES, load_settings
from bootstrap.topology import Topology
from domain.queue.errors import InvalidOptionError
from domain.queue.module import DomainModule, QueueSpec
from domain.queue.options import BackoffType, QueueDefaults, RateLimit
from domain.queue.tenancy import TenantPolicy


def _sample_topology(**settings: object) -> Topology:
    catalog = ModuleCatalog(load_modules(DEFAULT_MODULES))
    return Topology.from_modules(catalog, load_settings(**settings).queues)


def test_the_sample_modules_declare_the_seed_002_queues_they_use() -> None:
    assert _sample_topology().names() == [
        "batch-message-sending",
        "message-cleanup",
        "notification-email",
        "notification-push",
        "notification-sms",
        "slack-alerts",
        "slack-messages",
        "transaction-processing",
    ]


def test_a_seed_002_queue_keeps_concurrency_attempts_backoff_timeout_and_retention() -> None:
    email = _sample_topology().for_queue("notification-email")
    assert email.concurrency == 10
    assert email.defaults.attempts == 5
    assert email.defaults.backoff.type is BackoffType.EXPONENTIAL
    assert (email.defaults.backoff.delay, email.defaults.backoff.max_delay) == (2000, 15 * 60_000)
    assert email.defaults.timeout == 30_000
    assert email.defaults.remove_on_complete.count == 50
    assert email.source == "module notifications"


def test_the_seed_003_batch_queue_runs_two_at_a_time_with_exact_backoff_and_a_five_minute_timeout() -> None:
    batch = _sample_topology().for_queue("batch-message-sending")
    assert batch.concurrency == 2
    assert batch.defaults.attempts == 3
    assert (batch.defaults.backoff.delay, batch.defaults.backoff.jitter) == (5000, 0.0)
    assert batch.defaults.timeout == 5 * 60_000


def test_a_module_declares_its_own_queue_with_concurrency_defaults_and_rate_limit() -> None:
    module = DomainModule(
        "reports",
        queues=[QueueSpec("reports-export", 3, QueueDefaults(attempts=7, timeout=9000), RateLimit(5, 1000))],
    )
    queue = Topology.of_modules([module]).for_queue("reports-export")
    assert (queue.concurrency, queue.defaults.attempts, queue.defaults.timeout) == (3, 7, 9000)
    assert queue.rate_limit == RateLimit(5, 1000)


def test_a_queue_no_module_declares_gets_the_seed_002_generic_default() -> None:
    other = _sample_topology().for_queue("reports-export")
    assert other.name == "reports-export"
    assert other.concurrency == 10
    assert other.defaults.attempts == 5
    assert other.defaults.backoff.delay == 2000
    assert other.defaults.backoff.max_delay == 15 * 60_000
    assert other.defaults.backoff.jitter > 0


def test_settings_override_only_the_fields_they_name() -> None:
    topology = _sample_topology(
        queues={
            "notification-email": {
                "concurrency": 2,
                "backoff": {"delay_ms": 50},
                "rate_limit": {"max": 5, "duration_ms": 1000},
            }
        }
    )
    email = topology.for_queue("notification-email")
    assert email.concurrency == 2
    assert email.defaults.backoff.delay == 50
    assert email.defaults.backoff.max_delay == 15 * 60_000
    assert email.defaults.attempts == 5
    assert email.rate_limit is not None and email.rate_limit.max == 5
    assert email.source == "module notifications + settings"


def test_an_override_for_a_new_queue_adds_it_to_the_table() -> None:
    topology = _sample_topology(queues={"reports-export": {"attempts": 9}})
    assert "reports-export" in topology
    assert topology.for_queue("reports-export").defaults.attempts == 9


def test_keep_logs_is_100_unless_the_settings_set_it_per_queue() -> None:
    topology = _sample_topology(queues={"notification-email": {"keep_logs": 5}})
    assert topology.for_queue("notification-email").defaults.keep_logs == 5
    assert topology.for_queue("transaction-processing").defaults.keep_logs == 100


def test_a_module_queue_keeping_an_impossible_number_of_log_lines_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidOptionError) as raised:
        QueueSpec("reports-export", defaults=QueueDefaults(keep_logs=-1))
    assert raised.value.field == "queues.reports-export.keep_logs"


def test_settings_set_a_queues_tenant_policy() -> None:
    topology = _sample_topology(
        queues={"notification-email": {"tenancy": {"max_active": 2, "weights": {"org-big": 3}}}}
    )
    assert topology.for_queue("notification-email").tenancy == TenantPolicy(max_active=2, weights=(("org-big", 3),))


def test_a_tenant_policy_in_settings_with_a_window_but_no_start_limit_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidOptionError) as caught:
        _sample_topology(queues={"notification-email": {"tenancy": {"window_ms": 1000}}})
    assert caught.value.field == "queues.notification-email.tenancy.max_starts"
