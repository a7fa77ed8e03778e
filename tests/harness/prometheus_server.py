"""A real Prometheus server (Debian package ``prometheus``, installed by scripts/install-brokers.sh)
scraping given loopback targets every second, its data in a temporary directory, queried through
its HTTP API (``/api/v1/query``)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tests.harness.ports import LOOPBACK, free_port
from tests.harness.process import BrokerStartError, ServerProcess, wait_until

START_TIMEOUT_S = 30.0
SCRAPE_INTERVAL = "1s"
HTTP_TIMEOUT_S = 5.0


def prometheus_binary() -> str | None:
    return shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
    )


class PrometheusServer:
    """``start()`` runs ``prometheus`` on a free loopback port scraping ``targets`` (``host:port``)."""

    def __init__(self, targets: Sequence[str], workdir: Path) -> None:
        binary = prometheus_binary()
        if binary is None:
            raise BrokerStartError("prometheus is not installed: run scripts/install-brokers.sh")
        self.port = free_port()
        self.workdir = workdir
        config = workdir / "prometheus.yml"
        quoted = ", ".join(f'"{target}"' for target in targets)
        config.write_text(
            "global:\n"
            f"  scrape_interval: {SCRAPE_INTERVAL}\n"
            f"  scrape_timeout: {SCRAPE_INTERVAL}\n"
            "scrape_configs:\n"
            "  - job_name: backbone-worker\n"
            f"    static_configs:\n      - targets: [{quoted}]\n",
            encoding="utf-8",
        )
        self.process = ServerProcess(
            "prometheus",
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address={LOOPBACK}:{self.port}",
                "--log.level=warn",
            ],
            log_path=workdir / "prometheus.log",
            cwd=workdir,
        )

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        self.process.start()
        wait_until(
            self._ready,
            timeout_s=START_TIMEOUT_S,
            what="prometheus",
            log=self.process.log_path,
            alive=self.process.running,
            interval_s=0.1,
        )

    def stop(self) -> None:
        self.process.stop(timeout_s=10.0)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=HTTP_TIMEOUT_S) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def query(self, expression: str) -> float | None:
        """The value of an instant query that yields one sample (``None`` when it yields none)."""
        address = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expression})}"
        with urllib.request.urlopen(address, timeout=HTTP_TIMEOUT_S) as response:
            answer = json.loads(response.read())
        if answer["status"] != "success":
            raise AssertionError(f"prometheus refused {expression!r}: {answer}")
        result = answer["data"]["result"]
        if not result:
            return None
        if len(result) != 1:
            raise AssertionError(f"{expression!r} yields {len(result)} series, expected one: {result}")
        return float(result[0]["value"][1])

    def wait_for(self, expression: str, expected: float, timeout_s: float) -> float | None:
        """Query until ``expression`` equals ``expected`` or the timeout passes; the last value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.query(expression)
            if value == expected or time.monotonic() >= deadline:
                return value
            time.sleep(0.25)
