"""``SecondWorker`` as a real OS process running ``backbone.testing.contract.worker_process``."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from backbone.testing.contract.support import BrokerUnderTest, SecondWorker

PACKAGE_ROOT = Path(__file__).resolve().parents[3]  # the directory holding ``backbone``


class ProcessWorker(SecondWorker):
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(
        cls,
        url: str,
        queue: str,
        job_names: Sequence[str],
        behaviour: str,
        *,
        concurrency: int,
        lease_ms: int,
    ) -> ProcessWorker:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT), env.get("PYTHONPATH", "")])
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "backbone.testing.contract.worker_process",
            "--url",
            url,
            "--queue",
            queue,
            "--names",
            ",".join(job_names),
            "--behaviour",
            behaviour,
            "--concurrency",
            str(concurrency),
            "--lease-ms",
            str(lease_ms),
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        return cls(process)

    @property
    def pid(self) -> int:
        return self._process.pid

    async def wait_ready(self, timeout_s: float) -> None:
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), timeout_s)
        if line.strip() != b"READY":
            code = await asyncio.wait_for(self._process.wait(), 5)
            raise RuntimeError(f"worker process did not start (exit code {code}, said {line!r})")

    async def stop(self, timeout_s: float) -> None:
        if self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._process.wait(), timeout_s)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()

    async def kill(self) -> None:
        if self._process.returncode is None:
            self._process.kill()
            await self._process.wait()

    async def wait_exit(self, timeout_s: float) -> int:
        return await asyncio.wait_for(self._process.wait(), timeout_s)


class ProcessBrokerUnderTest(BrokerUnderTest):
    """A network broker whose second workers are real OS processes of ``backbone.testing.contract.worker_process``.

    Subclasses name the URL a worker process connects to.
    """

    def __init__(self) -> None:
        self._process_workers: list[ProcessWorker] = []

    @property
    def worker_url(self) -> str:
        raise NotImplementedError

    async def start_second_worker(
        self,
        queue: str,
        job_names: Sequence[str],
        behaviour: str,
        *,
        concurrency: int = 1,
        lease_ms: int = 1000,
    ) -> SecondWorker:
        worker = await ProcessWorker.start(
            self.worker_url,
            queue,
            job_names,
            behaviour,
            concurrency=concurrency,
            lease_ms=lease_ms,
        )
        self._process_workers.append(worker)
        return worker

    async def end_process_workers(self, *, graceful: bool) -> None:
        for worker in self._process_workers:
            if graceful:
                await worker.stop(10)
            else:
                await worker.kill()
