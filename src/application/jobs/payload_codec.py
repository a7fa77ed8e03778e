"""Payload encoding: data (or a pydantic model) <-> canonical JSON text, with the model's rules."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from application.jobs.job_types import JobType
from domain.queue.errors import InvalidPayloadError, PayloadTooLargeError

DEFAULT_MAX_PAYLOAD_BYTES = 512 * 1024


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_json(value: Any, field: str = "data") -> str:
    """Compact JSON; NaN/Infinity and non-JSON types are refused with ``InvalidPayloadError``."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise InvalidPayloadError(field, "must be JSON-encodable (no NaN/Infinity)", detail=str(exc)) from exc


def encode_payload(job_type: JobType, data: Any, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> str:
    """Validate ``data`` against the job type's model (if any) and encode it."""
    model = job_type.model
    if model is not None:
        try:
            instance = data if isinstance(data, model) else model.model_validate(data)
        except ValidationError as exc:
            raise InvalidPayloadError(
                "data", f"must match model {model.__name__} for {job_type.name}", detail=_first_errors(exc)
            ) from exc
        text = encode_json(instance.model_dump(mode="json"))
    elif isinstance(data, BaseModel):
        text = encode_json(data.model_dump(mode="json"))
    else:
        text = encode_json(data)
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise PayloadTooLargeError(
            "data", f"encoded payload must be at most {max_bytes} bytes", detail=f"got {size}"
        )
    return text


def decode_payload(job_type: JobType, data: Any) -> Any:
    """The handler's view of stored data: the model instance, or the plain JSON value.

    Raises ``InvalidPayloadError`` when stored data no longer fits the model.
    """
    if job_type.model is None:
        return data
    try:
        return job_type.model.model_validate(data)
    except ValidationError as exc:
        raise InvalidPayloadError(
            "data", f"stored payload must match model {job_type.model.__name__}", detail=_first_errors(exc)
        ) from exc


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for error in exc.errors()[:limit]:
        location = ".".join(str(part) for part in error["loc"]) or "<root>"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)
