"""Payload encoding: data (or a pydantic model) <-> canonical JSON text, with the model's rules."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from application.jobs.job_types import JobType
from application.state_machine.stored_json import value_depth_exceeds
from domain.queue.errors import InvalidPayloadError, PayloadTooLargeError

DEFAULT_MAX_PAYLOAD_BYTES = 512 * 1024
# Containers (objects and arrays) nested in one value at most. Far below what every decoder in the
# chain handles (Python's json ~990 with the default recursion limit, Redis' Lua cjson 1000), so the
# few levels a broker wraps around a payload (a claim reply, a replicated event) never reach them.
DEFAULT_MAX_JSON_DEPTH = 64
MAX_JSON_DEPTH_SETTING = 200  # the most the setting allows: still far from any decoder's limit


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_json(value: Any, field: str = "data", max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> str:
    """Compact JSON that every broker can store and every decoder read back, or ``InvalidPayloadError``
    naming ``field``: no NaN/Infinity, only JSON types, at most ``max_depth`` nested containers and
    valid Unicode (no lone surrogates)."""
    return _encode_checked(value, field, max_depth)[0]


def _encode_checked(value: Any, field: str, max_depth: int) -> tuple[str, int]:
    """The JSON text and its size in UTF-8 bytes."""
    try:
        text = _ENCODER.encode(value)
    except RecursionError:
        raise InvalidPayloadError(field, f"must be nested at most {max_depth} levels deep") from None
    except (TypeError, ValueError) as exc:
        raise InvalidPayloadError(field, "must be JSON-encodable (no NaN/Infinity)", detail=str(exc)) from exc
    # Cheap bound first: fewer brackets than the limit cannot nest deeper than it.
    if text.count("[") + text.count("{") > max_depth and value_depth_exceeds(value, max_depth):
        raise InvalidPayloadError(field, f"must be nested at most {max_depth} levels deep")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidPayloadError(
            field, "must be valid Unicode text (no lone surrogates)", detail=str(exc)
        ) from None
    return text, size


def encode_payload(
    job_type: JobType,
    data: Any,
    max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    max_depth: int = DEFAULT_MAX_JSON_DEPTH,
) -> str:
    """Validate ``data`` against the job type's model (if any) and encode it."""
    model = job_type.model
    try:
        if model is not None:
            try:
                instance = data if isinstance(data, model) else model.model_validate(data)
            except ValidationError as exc:
                raise InvalidPayloadError(
                    "data",
                    f"must match model {model.__name__} for {job_type.name}",
                    detail=_first_errors(exc),
                ) from exc
            value = instance.model_dump(mode="json")
        elif isinstance(data, BaseModel):
            value = data.model_dump(mode="json")
        else:
            value = data
    except RecursionError:
        raise InvalidPayloadError("data", f"must be nested at most {max_depth} levels deep") from None
    text, size = _encode_checked(value, "data", max_depth)
    if size > max_bytes:
        raise PayloadTooLargeError(
            "data", f"encoded payload must be at most {max_bytes} bytes", detail=f"got {size}"
        )
    return text


def check_json_value(
    value: Any,
    field: str,
    max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    max_depth: int = DEFAULT_MAX_JSON_DEPTH,
) -> None:
    """Refuse (``InvalidPayloadError`` naming ``field``) a value that is stored as JSON but would not
    encode, decode or fit: the same rules as ``data``."""
    size = _encode_checked(value, field, max_depth)[1]
    if size > max_bytes:
        raise PayloadTooLargeError(
            field, f"encoded value must be at most {max_bytes} bytes", detail=f"got {size}"
        )


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
