"""The key layout of one queue. Every key shares the hash tag ``{prefix:queue}`` (one cluster slot)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QueueKeys:
    prefix: str
    queue: str

    @property
    def tag(self) -> str:
        """``{prefix:queue}``: the part Redis Cluster hashes, the same for every key of the queue."""
        return f"{{{self.prefix}:{self.queue}}}"

    @property
    def base(self) -> str:
        """What job and idempotency keys start with (passed to every script as ``ARGV[1]``)."""
        return f"{self.tag}:"

    @property
    def meta(self) -> str:
        return f"{self.base}meta"

    @property
    def wait(self) -> str:
        return f"{self.base}wait"

    @property
    def delayed(self) -> str:
        return f"{self.base}delayed"

    @property
    def active(self) -> str:
        return f"{self.base}active"

    @property
    def completed(self) -> str:
        return f"{self.base}completed"

    @property
    def failed(self) -> str:
        return f"{self.base}failed"

    @property
    def marker(self) -> str:
        return f"{self.base}marker"

    @property
    def schedules(self) -> str:
        """Hash of the run-time schedules: name -> JSON text (ADR 0022)."""
        return f"{self.base}schedules"

    def job(self, job_id: str) -> str:
        return f"{self.base}job:{job_id}"

    def logs(self, job_id: str) -> str:
        """The job's ``ctx.log`` lines (a list, deleted with the job; ADR 0026)."""
        return f"{self.base}logs:{job_id}"

    def idempotency(self, key: str) -> str:
        return f"{self.base}idem:{key}"

    def script_keys(self) -> tuple[str, ...]:
        """``KEYS`` of every script, in the order ``lua/lib.lua`` expects."""
        return (self.meta, self.wait, self.delayed, self.active, self.completed, self.failed, self.marker)
