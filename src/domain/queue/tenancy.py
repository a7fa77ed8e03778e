"""Per-tenant limits and fair share of one queue (ADR 0021).

A queue that sets a ``TenantPolicy`` serves its tenants in turn (round robin within a priority,
``weights`` giving a tenant that many jobs per turn) and, optionally, caps each tenant: at most
``max_active`` jobs running at once and at most ``max_starts`` starts per ``window_ms`` fixed window.
The tenant of a job is its ``metadata.tenant_id``; jobs without one share one "no tenant" bucket
that takes its turn like a tenant and is never limited. A tenant at a limit waits (its jobs stay
waiting), it never holds back another tenant.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.queue.errors import InvalidOptionError

MAX_TENANT_LIMIT = 10**9
MAX_WINDOW_MS = 10 * 365 * 24 * 60 * 60 * 1000
MAX_WEIGHT = 1000


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    """Fair share between the tenants of one queue, with optional per-tenant limits.

    ``weights`` is a tuple of ``(tenant_id, weight)`` pairs (a mapping is accepted and normalised
    by ``validate``); a tenant not named has weight 1.
    """

    max_active: int | None = None
    max_starts: int | None = None
    window_ms: int | None = None
    weights: tuple[tuple[str, int], ...] = ()

    def validate(self, prefix: str = "tenancy") -> TenantPolicy:
        _check_optional(f"{prefix}.max_active", self.max_active, 1, MAX_TENANT_LIMIT)
        _check_optional(f"{prefix}.max_starts", self.max_starts, 1, MAX_TENANT_LIMIT)
        _check_optional(f"{prefix}.window_ms", self.window_ms, 1, MAX_WINDOW_MS)
        if (self.max_starts is None) != (self.window_ms is None):
            missing = "window_ms" if self.window_ms is None else "max_starts"
            raise InvalidOptionError(f"{prefix}.{missing}", "max_starts and window_ms must be given together")
        raw = self.weights
        if isinstance(raw, dict):
            raw = tuple(raw.items())
        if not isinstance(raw, tuple | list):
            raise InvalidOptionError(f"{prefix}.weights", "must be a mapping of tenant id to weight")
        weights: dict[str, int] = {}
        for item in raw:
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise InvalidOptionError(f"{prefix}.weights", "must be (tenant id, weight) pairs")
            tenant, weight = item
            if not isinstance(tenant, str) or not tenant:
                raise InvalidOptionError(f"{prefix}.weights", "tenant ids must be non-empty strings")
            _check_optional(f"{prefix}.weights.{tenant}", weight, 1, MAX_WEIGHT)
            weights[tenant] = weight
        return TenantPolicy(self.max_active, self.max_starts, self.window_ms, tuple(sorted(weights.items())))

    def weight_of(self, tenant: str) -> int:
        for name, weight in self.weights:
            if name == tenant:
                return weight
        return 1


def _check_optional(field_name: str, value: object, low: int, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionError(field_name, f"must be an integer in {low}..{high}", detail=f"got {value!r}")
    if not low <= value <= high:
        raise InvalidOptionError(field_name, f"must be in {low}..{high}", detail=f"got {value}")


__all__ = ["TenantPolicy"]
