"""A local ``redis-server`` on a free loopback port (Debian package ``redis-server``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis

from tests.harness.handle import LocalBroker
from tests.harness.ports import LOOPBACK, free_port
from tests.harness.process import BrokerStartError, ServerProcess, wait_until
from tests.harness.tls import ServerTls

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
    ``requirepass``; the URL then carries it. ``username`` (with ``password``) makes that an ACL
    user instead and switches the ``default`` user off. ``tls`` serves TLS only (``port 0``,
    ``tls-port``): the URL is then ``rediss://``."""

    kind = "redis"

    def __init__(
        self,
        *,
        durable: bool = False,
        password: str | None = None,
        username: str | None = None,
        tls: ServerTls | None = None,
        base_dir: Path | None = None,
    ) -> None:
        super().__init__(base_dir)
        if username is not None and password is None:
            raise ValueError("an ACL user needs a password")
        self.durable = durable
        self.password = password
        self.username = username
        self.tls = tls
        self.data_dir = self.base_dir / "data"
        self.data_dir.mkdir(exist_ok=True)
        self._process: ServerProcess | None = None

    @property
    def url(self) -> str:
        user = quote(self.username, safe="") if self.username else ""
        auth = f"{user}:{quote(self.password, safe='')}@" if self.password else ""
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{auth}{LOOPBACK}:{self.port}/0"

    def _pick_port(self) -> int:
        return free_port()

    def _config(self, port: int) -> str:
        lines = [
            f"port {0 if self.tls else port}",
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
        if self.username and self.password:
            lines += ["user default off", f'user "{self.username}" on ">{self.password}" ~* &* +@all']
        elif self.password:
            lines.append(f'requirepass "{self.password}"')
        if self.tls:
            lines += [
                f"tls-port {port}",
                f'tls-cert-file "{self.tls.cert.cert_file}"',
                f'tls-key-file "{self.tls.cert.key_file}"',
                f'tls-ca-cert-file "{self.tls.ca_file}"',
                f"tls-auth-clients {'yes' if self.tls.verify_clients else 'no'}",
            ]
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
        tls: dict[str, Any] = {}
        if self.tls:
            tls = {
                "ssl": True,
                "ssl_ca_certs": str(self.tls.ca_file),
                "ssl_certfile": str(self.tls.client.cert_file),
                "ssl_keyfile": str(self.tls.client.key_file),
            }
        client = redis.Redis(
            host=LOOPBACK,
            port=port,
            username=self.username,
            password=self.password,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            **tls,
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
