"""``JobFactory``: turns ``add`` arguments into a validated, encoded ``JobDraft``.

Every adapter calls it first, so bad input is refused the same way everywhere and nothing is
stored: name rule, registered type, model validation, JSON encoding, size limit, nesting depth,
option ranges, metadata types. Everything a draft holds is then known to encode on every broker
(valid Unicode, no NaN/Infinity, only JSON types), so one caller's draft can never make a batch
that carries other callers' drafts fail.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from application.encryption.envelope import ENVELOPE_FIELD, is_sealed
from application.jobs.job_types import JobTypes
from application.jobs.payload_codec import (
    DEFAULT_MAX_JSON_DEPTH,
    DEFAULT_MAX_PAYLOAD_BYTES,
    MAX_JSON_DEPTH_SETTING,
    check_json_value,
    encode_payload,
)
from application.queue_backend import JobDraft
from domain.queue.errors import InvalidJobError, InvalidMetadataError, InvalidOptionError, InvalidPayloadError
from domain.queue.job import NewJob
from domain.queue.metadata import JobMetadata, check_text, current_correlation_id
from domain.queue.naming import validate_job_name, validate_queue_name
from domain.queue.options import JobOptions, QueueDefaults

if TYPE_CHECKING:
    from application.encryption.policy import PayloadEncryption


def new_job_id() -> str:
    """128 random bits as 32 hex characters (the shape of a uuid4 hex)."""
    return os.urandom(16).hex()


class JobFactory:
    def __init__(
        self,
        queue: str,
        job_types: JobTypes,
        defaults: QueueDefaults | None = None,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
        source: str = "messaging-backbone",
        id_factory: Callable[[], str] = new_job_id,
        encryption: PayloadEncryption | None = None,
    ) -> None:
        self.queue = validate_queue_name(queue)  # every broker opens a queue through its factory
        self.job_types = job_types
        self.defaults = defaults or QueueDefaults()
        self.max_payload_bytes = max_payload_bytes
        if not 1 <= max_json_depth <= MAX_JSON_DEPTH_SETTING:
            raise ValueError(f"max_json_depth must be in 1..{MAX_JSON_DEPTH_SETTING}, got {max_json_depth}")
        self.max_json_depth = max_json_depth
        self.source = check_text("source", source)
        self._new_id = id_factory
        self.encryption = encryption  # seals the payloads of encrypted job types (ADR 0023)
        self._plain_options = JobOptions().resolve(self.defaults)  # most jobs set no options

    def draft(
        self,
        name: str,
        data: Any,
        options: JobOptions | None,
        metadata: JobMetadata | None,
        now: int,
    ) -> JobDraft:
        if not isinstance(name, str) or name not in self.job_types:
            validate_job_name(name)
        job_type = self.job_types.lookup(name)
        if options is not None and not isinstance(options, JobOptions):
            raise InvalidOptionError("options", "must be a JobOptions instance")
        if metadata is not None and not isinstance(metadata, JobMetadata):
            raise InvalidMetadataError("metadata", "must be a JobMetadata instance")
        resolved = self._plain_options if options is None else options.resolve(self.defaults)
        if is_sealed(data):  # stored sealed data is told apart by this shape alone
            raise InvalidPayloadError(
                "data", f"must not be an object whose only key is {ENVELOPE_FIELD!r} (reserved)"
            )
        data_json = encode_payload(job_type, data, self.max_payload_bytes, self.max_json_depth)
        job_id = resolved.job_id or self._new_id()
        if self.encryption is not None and self.encryption.applies(self.queue, name):
            data_json = self.encryption.seal(self.queue, name, job_id, data_json)  # before any adapter
        correlation = current_correlation_id.get() or job_id
        if metadata is None:
            check_text("metadata.correlation_id", correlation)  # inherited: may come from a stored job
            full_metadata = JobMetadata(correlation_id=correlation, timestamp=now, source=self.source)
        else:
            full_metadata = self._checked(metadata).with_defaults(
                correlation_id=correlation, timestamp=now, source=self.source
            )
            check_text("metadata.correlation_id", full_metadata.correlation_id)
        return JobDraft(
            id=job_id,
            name=name,
            data_json=data_json,
            options=resolved,
            metadata=full_metadata,
            created_at=now,
        )

    def _checked(self, metadata: JobMetadata) -> JobMetadata:
        checked = metadata.validate()
        if checked.business_context:
            try:
                check_json_value(
                    checked.business_context,
                    "metadata.business_context",
                    self.max_payload_bytes,
                    self.max_json_depth,
                )
            except InvalidPayloadError as exc:
                raise InvalidMetadataError(exc.field, exc.rule, detail=exc.detail) from None
        return checked

    def drafts(self, jobs: Sequence[NewJob], now: int) -> tuple[JobDraft, ...]:
        """Validate every entry before any is stored; the error names the entry's index."""
        result = []
        for index, entry in enumerate(jobs):
            if not isinstance(entry, NewJob):
                raise InvalidOptionError(f"jobs[{index}]", "must be a NewJob")
            try:
                result.append(self.draft(entry.name, entry.data, entry.options, entry.metadata, now))
            except InvalidJobError as exc:
                raise type(exc)(f"jobs[{index}].{exc.field}", exc.rule, detail=exc.detail) from exc
        return tuple(result)
