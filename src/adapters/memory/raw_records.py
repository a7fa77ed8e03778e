"""The memory broker's record format, for records handed in by a "raw client".

A record is UTF-8 JSON: ``{"name": "domain.action.v1", "data": ..., "id": "optional"}``. Anything
else is malformed and goes straight to the dead-letter set with its reason and original bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from application.state_machine.stored_json import MAX_JSON_DEPTH, has_lone_surrogate, text_depth_exceeds

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
    if text_depth_exceeds(text):
        raise MalformedRecordError(f"record nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text)
    except Exception as exc:  # any decoder failure, of any type, is the same verdict
        raise MalformedRecordError(f"record is not JSON ({type(exc).__name__}: {exc})"[:300]) from exc
    if has_lone_surrogate(value):
        raise MalformedRecordError("record holds an unpaired UTF-16 surrogate")
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
