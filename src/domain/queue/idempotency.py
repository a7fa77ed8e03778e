"""The seeds' idempotency key: ``{tenant}:{job_type}:{sha256(sorted JSON)[:16]}:{window start}``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

FIVE_MINUTES_MS = 5 * 60 * 1000


def content_hash(data: Any) -> str:
    """First 16 hex chars of the SHA-256 of ``data`` as JSON with sorted keys."""
    encoded = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()[:16]


def idempotency_key(
    tenant_id: str, job_type: str, data: Any, now_ms: int, window_ms: int = FIVE_MINUTES_MS
) -> str:
    """Two calls with equal data in the same ``window_ms`` window give the same key."""
    if window_ms <= 0:
        raise ValueError("window_ms must be > 0")
    window_start = (now_ms // window_ms) * window_ms
    return f"{tenant_id}:{job_type}:{content_hash(data)}:{window_start}"
