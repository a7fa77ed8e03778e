"""How one worker runs: concurrency, leases, prefetch, rate limit, shutdown grace."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from domain.queue.errors import InvalidOptionError
from domain.queue.options import RateLimit
from domain.queue.tenancy import TenantPolicy


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    concurrency: int = 1
    lease_ms: int = 30_000  # a job whose lease is not renewed for this long is given to another worker
    lease_renew_ms: int | None = None  # default: lease_ms / 3
    prefetch: int = 0  # extra jobs reserved beyond free slots (handed back at once on shutdown)
    block_ms: int = 1000  # how long one claim waits for work (also bounds shutdown latency)
    limiter: RateLimit | None = None
    tenancy: TenantPolicy | None = None  # fair share and per-tenant limits (ADR 0021)
    shutdown_grace_ms: int = 10_000
    worker_id: str = field(default_factory=default_worker_id)
    claim_error_backoff_ms: int = 500  # wait after a failed claim (broker down) before trying again
    # A job whose name has no handler here goes back to the queue for this long, its attempt not
    # counted, so a worker that knows it takes it (ADR 0017) ...
    unknown_job_delay_ms: int = 10_000
    # ... until it was handed back this many times: then it is dead-lettered with that reason. With
    # the defaults a job waits at least 360 x 10 s = 1 hour for a worker that knows its name.
    unknown_job_max_hand_backs: int = 360

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= 10_000:
            raise InvalidOptionError("concurrency", "must be in 1..10000")
        if not 100 <= self.lease_ms <= 24 * 3600 * 1000:
            raise InvalidOptionError("lease_ms", "must be in 100..86400000")
        if self.lease_renew_ms is not None and not 10 <= self.lease_renew_ms < self.lease_ms:
            raise InvalidOptionError("lease_renew_ms", "must be >= 10 and below lease_ms")
        if not 0 <= self.prefetch <= 10_000:
            raise InvalidOptionError("prefetch", "must be in 0..10000")
        if not 1 <= self.block_ms <= 60_000:
            raise InvalidOptionError("block_ms", "must be in 1..60000")
        if self.shutdown_grace_ms < 0:
            raise InvalidOptionError("shutdown_grace_ms", "must be >= 0")
        if not 0 <= self.unknown_job_delay_ms <= 24 * 3600 * 1000:
            raise InvalidOptionError("unknown_job_delay_ms", "must be in 0..86400000")
        if not 0 <= self.unknown_job_max_hand_backs <= 1_000_000:
            raise InvalidOptionError("unknown_job_max_hand_backs", "must be in 0..1000000")
        if self.limiter is not None:
            self.limiter.validate()
        if self.tenancy is not None:
            object.__setattr__(self, "tenancy", self.tenancy.validate())

    @property
    def renew_every_ms(self) -> int:
        return self.lease_renew_ms if self.lease_renew_ms is not None else max(10, self.lease_ms // 3)
