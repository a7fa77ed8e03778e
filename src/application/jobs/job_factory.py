"""``JobFactory``: turns ``add`` arguments into a validated, encoded ``JobDraft``.

Every adapter calls it first, so bad input is refused the same way everywhere and nothing is
stored: name rule, registered type, model validation, JSON encoding, size limit, option ranges.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from application.jobs.job_types import JobTypes
from application.jobs.payload_codec import DEFAULT_MAX_PAYLOAD_BYTES, encode_payload
from application.queue_backend import JobDraft
from domain.queue.errors import InvalidJobError, InvalidOptionError
from domain.queue.job import NewJob
from domain.queue.metadata import JobMetadata, current_correlation_id
from domain.queue.naming import validate_job_name
from domain.queue.options import JobOptions, QueueDefaults


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
        source: str = "messaging-backbone",
        id_factory: Callable[[], str] = new_job_id,
    ) -> None:
        self.queue = queue
        self.job_types = job_types
        self.defaults = defaults or QueueDefaults()
        self.max_payload_bytes = max_payload_bytes
        self.source = source
        self._new_id = id_factory
        self._plain_options = JobOptions().resolve(self.defaults)  # most jobs set no options

    def draft(
        self,
        name: str,
        data: Any,
        options: JobOptions | None,
        metadata: JobMetadata | None,
        now: int,
    ) -> JobDraft:
        if name not in self.job_types:
            validate_job_name(name)
        job_type = self.job_types.lookup(name)
        if options is not None and not isinstance(options, JobOptions):
            raise InvalidOptionError("options", "must be a JobOptions instance")
        if metadata is not None and not isinstance(metadata, JobMetadata):
            raise InvalidOptionError("metadata", "must be a JobMetadata instance")
        resolved = self._plain_options if options is None else options.resolve(self.defaults)
        data_json = encode_payload(job_type, data, self.max_payload_bytes)
        job_id = resolved.job_id or self._new_id()
        correlation = current_correlation_id.get() or job_id
        full_metadata = (metadata or JobMetadata()).with_defaults(
            correlation_id=correlation, timestamp=now, source=self.source
        )
        return JobDraft(
            id=job_id,
            name=name,
            data_json=data_json,
            options=resolved,
            metadata=full_metadata,
            created_at=now,
        )

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
