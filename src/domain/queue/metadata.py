"""The seeds' metadata standard (seed 002 "Metadata Standards").

Every job carries who asked for it (a user or the system user), for which tenant, from which
service, when, and under which correlation id. ``business_context`` is free-form domain data.
"""

from __future__ import annotations

import dataclasses
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from domain.queue.errors import InvalidMetadataError

SYSTEM_SUBJECT = "system"
MAX_METADATA_TEXT_LENGTH = 1000
MAX_TIMESTAMP_MS = 2**53  # far beyond any real clock; exact in every JSON decoder

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

    def validate(self, prefix: str = "metadata.user") -> UserRef:
        """Check every field's type and text; roles given as a list come back as a tuple."""
        check_text(f"{prefix}.sub", self.sub)
        check_optional_text(f"{prefix}.tenant", self.tenant)
        if not isinstance(self.roles, tuple | list):
            raise InvalidMetadataError(f"{prefix}.roles", "must be a tuple of strings")
        for index, role in enumerate(self.roles):
            check_text(f"{prefix}.roles[{index}]", role)
        check_optional_text(f"{prefix}.display_name", self.display_name)
        check_optional_text(f"{prefix}.email", self.email)
        if isinstance(self.roles, tuple):
            return self
        return UserRef(self.sub, self.tenant, tuple(self.roles), self.display_name, self.email)


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

    def validate(self) -> JobMetadata:
        """Check every field's type (``InvalidMetadataError`` naming it); ``business_context`` is
        only checked to be an object with string keys here: its values are checked where it is
        encoded (``application.jobs.payload_codec``)."""
        check_optional_text("metadata.correlation_id", self.correlation_id)
        check_optional_text("metadata.tenant_id", self.tenant_id)
        user = self.user
        if user is not None:
            if not isinstance(user, UserRef):
                raise InvalidMetadataError(
                    "metadata.user", "must be a UserRef or None", detail=f"got {type(user).__name__}"
                )
            user = user.validate()
        check_optional_text("metadata.source", self.source)
        timestamp = self.timestamp
        if timestamp is not None and (
            isinstance(timestamp, bool)
            or not isinstance(timestamp, int)
            or not 0 <= timestamp <= MAX_TIMESTAMP_MS
        ):
            raise InvalidMetadataError(
                "metadata.timestamp", f"must be None or an integer in 0..{MAX_TIMESTAMP_MS} (epoch ms)"
            )
        context = self.business_context
        if not isinstance(context, dict):
            raise InvalidMetadataError(
                "metadata.business_context", "must be a dict", detail=f"got {type(context).__name__}"
            )
        for key in context:
            if not isinstance(key, str):
                raise InvalidMetadataError(
                    "metadata.business_context", "keys must be strings", detail=f"got {type(key).__name__}"
                )
        headers = self.headers
        if not isinstance(headers, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in headers.items()
        ):  # propagation headers (ADR 0016) are text to text, so every adapter stores them alike
            raise InvalidMetadataError("metadata.headers", "must map str to str")
        for key, value in headers.items():
            check_text(f"metadata.headers[{key!r}]", key)
            check_text(f"metadata.headers[{key!r}]", value)
        if user is self.user:
            return self
        return dataclasses.replace(self, user=user)

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


def check_text(field_name: str, value: object) -> str:
    """A string of at most ``MAX_METADATA_TEXT_LENGTH`` characters that is valid Unicode (no lone
    surrogates: it must encode as UTF-8, as every broker stores it)."""
    if not isinstance(value, str):
        raise InvalidMetadataError(field_name, "must be a string", detail=f"got {type(value).__name__}")
    if len(value) > MAX_METADATA_TEXT_LENGTH:
        raise InvalidMetadataError(field_name, f"must be at most {MAX_METADATA_TEXT_LENGTH} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidMetadataError(field_name, "must be valid Unicode text (no lone surrogates)") from None
    return value


def check_optional_text(field_name: str, value: object) -> None:
    if value is not None:
        check_text(field_name, value)
