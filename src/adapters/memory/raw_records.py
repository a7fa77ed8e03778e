"""The memory broker's record format, for records handed in by a "raw client".

A record is UTF-8 JSON: ``{"name": "domain.action.v1", "data": ..., "id": "optional"}``. Anything
else is malformed and goes straight to the dead-letter set with its reason and original bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_RECORD_BYTES = 1024 * 1024


class MalformedRecordError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class RawJob:
    name: str
    data: Any
    job_id: str | None


def decode_raw_record(raw: bytes) -> RawJob:
    if len(raw) > MAX_RECORD_BYTES:
        raise MalformedRecordError(f"record is {len(raw)} bytes, over the {MAX_RECORD_BYTES} byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRecordError(f"record is not UTF-8 ({exc.reason})") from exc
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise MalformedRecordError(f"record is not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise MalformedRecordError("record must be a JSON object")
    name = value.get("name")
    if not isinstance(name, str):
        raise MalformedRecordError("record field 'name' must be a string")
    if "data" not in value:
        raise MalformedRecordError("record field 'data' is missing")
    job_id = value.get("id")
    if job_id is not None and not isinstance(job_id, str):
        raise MalformedRecordError("record field 'id' must be a string")
    return RawJob(name=name, data=value["data"], job_id=job_id)


def encode_raw_record(name: str, data: Any, job_id: str | None = None) -> bytes:
    record: dict[str, Any] = {"name": name, "data": data}
    if job_id is not None:
        record["id"] = job_id
    return json.dumps(record).encode("utf-8")
