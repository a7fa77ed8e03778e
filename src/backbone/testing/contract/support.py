"""What the shared contract suite needs from each broker: a ``BrokerUnderTest``.

``brokers.broker_under_test(url)`` builds one from a broker URL; a binding subclasses
``QueueContract`` with a ``broker`` fixture yielding it. The behaviours live once, in
``queue_contract.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from application.jobs.job_types import JobTypes
from application.queue_backend import QueueBackend
from domain.queue.options import QueueDefaults

# Handlers a worker in another process can run, chosen by name (a process cannot receive a closure).
# "record"  : return {"pid": os.getpid()} after sleeping data.get("sleep_ms", 0) ms.
# "suicide" : SIGKILL its own process when data["kill_pid"] == os.getpid() or data.get("always"),
#             else behave like "record".
WORKER_BEHAVIOURS = ("record", "suicide")


class SecondWorker(ABC):
    """A worker running elsewhere: another OS process for a network broker."""

    @property
    @abstractmethod
    def pid(self) -> int:
        """OS process id of the worker (the test process's own pid for an in-process worker)."""

    @abstractmethod
    async def wait_ready(self, timeout_s: float) -> None:
        """Return once the worker is connected and claiming."""

    @abstractmethod
    async def stop(self, timeout_s: float) -> None:
        """Graceful stop (SIGTERM for a process)."""

    @abstractmethod
    async def kill(self) -> None:
        """Die at once without any cleanup (SIGKILL for a process)."""


class BrokerUnderTest(ABC):
    """One broker (memory, Redis, RabbitMQ or Kafka) as the contract suite drives it."""

    name: str = "abstract"

    @abstractmethod
    async def open_queue(
        self,
        queue: str,
        job_types: JobTypes,
        defaults: QueueDefaults,
        *,
        max_payload_bytes: int = 512 * 1024,
        encryption: Any = None,
    ) -> QueueBackend:
        """A connected queue handle. Each call is a new client (as another process would have).

        ``encryption`` (a ``PayloadEncryption``) seals the payloads it applies to and opens what the
        handle reads, as a process with those keys would (ADR 0023)."""

    @abstractmethod
    async def open_unreachable_queue(self, queue: str, job_types: JobTypes, timeout_ms: int) -> QueueBackend:
        """A handle configured for a broker that is not there, with a password in its URL.

        Its operations must raise ``BrokerUnavailableError`` within about ``timeout_ms`` and the
        message must not contain the password ``CONTRACT_SECRET``.
        """

    @abstractmethod
    async def write_raw_record(self, queue: str, raw: bytes) -> None:
        """Write ``raw`` where this broker keeps jobs, the way a raw client of the broker could.

        For Redis: a job whose stored record is these bytes; for the log adapters: a record on the
        queue's log; for memory: an envelope handed to the broker's record decoder.
        """

    @abstractmethod
    async def write_raw_job(self, queue: str, job_id: str, name: str, data: bytes) -> None:
        """Store one job the way a raw client of the broker could: in the broker's own well-formed
        record, with ``data`` (the job's JSON text) these bytes verbatim, JSON or not, UTF-8 or not.

        Memory: its record with ``data`` spliced in; the log adapters: an ``add`` record on the
        queue's log (``poison_behaviours.log_add_record``); Redis: a job added as usual whose stored
        fields a raw client then overwrites (callers pause the queue while they write).
        """

    @abstractmethod
    async def start_second_worker(
        self,
        queue: str,
        job_names: Sequence[str],
        behaviour: str,
        *,
        concurrency: int = 1,
        lease_ms: int = 1000,
    ) -> SecondWorker:
        """Start a worker for ``queue`` in another process (where the broker allows it).

        Its handlers for every name in ``job_names`` follow ``behaviour`` (see WORKER_BEHAVIOURS).
        """

    @abstractmethod
    async def interrupt_and_restore(self) -> None:
        """Make the broker unreachable for a moment (restart it, or cut its connections), then
        bring it back, keeping every job the broker had acknowledged."""

    async def close(self) -> None:  # noqa: B027 - optional hook, most brokers hold nothing
        """Release anything the broker under test holds."""


CONTRACT_SECRET = "s3cret-contract-password"
