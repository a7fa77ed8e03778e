"""TenantPolicy: bad limits are refused with an error that names the field (ADR 0021)."""

from __future__ import annotations

import pytest

from application.worker.options import WorkerOptions
from domain.queue.errors import InvalidJobError, InvalidOptionError
from domain.queue.module import QueueSpec
from domain.queue.tenancy import TenantPolicy


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (TenantPolicy(max_active=0), "tenancy.max_active"),
        (TenantPolicy(max_active=True), "tenancy.max_active"),  # type: ignore[arg-type]
        (TenantPolicy(max_starts=5), "tenancy.window_ms"),
        (TenantPolicy(window_ms=1000), "tenancy.max_starts"),
        (TenantPolicy(max_starts=0, window_ms=1000), "tenancy.max_starts"),
        (TenantPolicy(max_starts=1, window_ms=-5), "tenancy.window_ms"),
        (TenantPolicy(weights=(("acme", 0),)), "tenancy.weights.acme"),
        (TenantPolicy(weights=(("", 2),)), "tenancy.weights"),
        (TenantPolicy(weights=(("acme", 1001),)), "tenancy.weights.acme"),
    ],
)
def test_a_bad_tenant_policy_is_refused_naming_the_field(policy: TenantPolicy, field: str) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        policy.validate()
    assert isinstance(caught.value, InvalidJobError)
    assert caught.value.field == field


def test_weights_given_as_a_mapping_are_normalised_to_sorted_pairs() -> None:
    policy = TenantPolicy(weights={"globex": 2, "acme": 3}).validate()  # type: ignore[arg-type]
    assert policy.weights == (("acme", 3), ("globex", 2))
    assert (policy.weight_of("acme"), policy.weight_of("initech")) == (3, 1)


def test_a_queue_spec_names_the_queue_in_a_bad_tenancy_field() -> None:
    with pytest.raises(InvalidOptionError) as caught:
        QueueSpec("orders", tenancy=TenantPolicy(max_active=0))
    assert caught.value.field == "queues.orders.tenancy.max_active"


def test_worker_options_refuse_a_bad_tenant_policy() -> None:
    with pytest.raises(InvalidOptionError) as caught:
        WorkerOptions(tenancy=TenantPolicy(max_starts=1))
    assert caught.value.field == "tenancy.window_ms"
