"""The seeds' metadata standard (seed 002 "Metadata Standards").

Every job carries who asked for it (a user or the system user), for which tenant, from which
service, when, and under which correlation id. ``business_context`` is free-form domain data.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

SYSTEM_SUBJECT = "system"

# The correlation id of the job being handled in this task; jobs enqueued from a handler inherit it.
current_correlation_id: ContextVar[str | None] = ContextVar("current_correlation_id", default=None)


@dataclass(frozen=True, slots=True)
class UserRef:
    """A user token (``IUserToken``) or the system user (``sub='system'``)."""

    sub: str
    tenant: str | None = None
    roles: tuple[str, ...] = ()
    display_name: str | None = None
    email: str | None = None

    @property
    def is_system(self) -> bool:
        return self.sub == SYSTEM_SUBJECT

    @staticmethod
    def system(tenant: str | None = None) -> UserRef:
        return UserRef(sub=SYSTEM_SUBJECT, tenant=tenant, roles=("system",), display_name="System")


@dataclass(frozen=True, slots=True)
class JobMetadata:
    correlation_id: str | None = None
    tenant_id: str | None = None
    user: UserRef | None = None
    source: str | None = None
    timestamp: int | None = None  # epoch ms of creation; filled in at add when missing
    business_context: dict[str, Any] = field(default_factory=dict)
    # Propagation headers for observers (e.g. W3C ``traceparent``/``tracestate`` set by a tracing
    # hook at add and read at each attempt); text to text, carried unchanged by every adapter.
    headers: dict[str, str] = field(default_factory=dict)

    def with_defaults(self, *, correlation_id: str, timestamp: int, source: str) -> JobMetadata:
        return JobMetadata(
            correlation_id=self.correlation_id or correlation_id,
            tenant_id=self.tenant_id
            if self.tenant_id is not None
            else (self.user.tenant if self.user else None),
            user=self.user,
            source=self.source or source,
            timestamp=self.timestamp if self.timestamp is not None else timestamp,
            business_context=dict(self.business_context),
            headers=dict(self.headers),
        )
