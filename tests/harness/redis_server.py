"""A local ``redis-server`` on a free loopback port (Debian package ``redis-server``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

import redis

from tests.harness.handle import LocalBroker
from tests.harness.ports import LOOPBACK, free_port
from tests.harness.process import BrokerStartError, ServerProcess, wait_until

START_TIMEOUT_S = 20.0


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise BrokerStartError(
            "redis-server is not installed: run scripts/install-brokers.sh (or make brokers)"
        )
    return found


class RedisServer(LocalBroker):
    """``durable=True`` turns on the append-only file (fsync on every write) so that what Redis
    acknowledged survives ``restart()``, even ``restart(graceful=False)``. ``password`` turns on
    ``requirepass``; the URL then carries it."""

    kind = "redis"

    def __init__(
        self, *, durable: bool = False, password: str | None = None, base_dir: Path | None = None
    ) -> None:
        super().__init__(base_dir)
        self.durable = durable
        self.password = password
        self.data_dir = self.base_dir / "data"
        self.data_dir.mkdir(exist_ok=True)
        self._process: ServerProcess | None = None

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}{LOOPBACK}:{self.port}/0"

    def _pick_port(self) -> int:
        return free_port()

    def _config(self, port: int) -> str:
        lines = [
            f"port {port}",
            f"bind {LOOPBACK}",
            f'dir "{self.data_dir}"',
            'save ""',
            "daemonize no",
            'logfile ""',
            "protected-mode yes",
            "maxmemory-policy noeviction",
        ]
        if self.durable:
            lines += ["appendonly yes", "appendfsync always"]
        else:
            lines += ["appendonly no"]
        if self.password:
            lines.append(f'requirepass "{self.password}"')
        return "\n".join(lines) + "\n"

    def _start_on(self, port: int) -> None:
        config_path = self.base_dir / "redis.conf"
        config_path.write_text(self._config(port), encoding="utf-8")
        config_path.chmod(0o600)
        process = ServerProcess(
            "redis-server", [redis_server_binary(), str(config_path)], log_path=self.log_path
        )
        self._process = process
        process.start()
        wait_until(
            lambda: self._answers_ping(port),
            timeout_s=START_TIMEOUT_S,
            what=f"redis-server on port {port}",
            log=self.log_path,
            alive=process.running,
        )

    def _answers_ping(self, port: int) -> bool:
        client = redis.Redis(
            host=LOOPBACK, port=port, password=self.password, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def _stop_processes(self, *, graceful: bool) -> None:
        if self._process is not None:
            self._process.stop(graceful=graceful, timeout_s=15.0)
            self._process = None
