"""A local RabbitMQ node (Debian package ``rabbitmq-server``, 3.10) on free loopback ports.

Each node is isolated from the system's RabbitMQ and from other nodes on the machine: its own
``HOME`` (so its own Erlang cookie), its own ``epmd`` on a private port (``ERL_EPMD_PORT``, stopped
with the node: no stray daemon), its own config, plugin, data and log files under a temporary dir. It
runs as the current user (the Debian wrapper that drops to the ``rabbitmq`` user is bypassed), so
the data dir needs no ``chown``.
"""

from __future__ import annotations

import functools
import glob
import json
import logging
import os
import secrets
import shutil
import socket
import ssl
import time
from pathlib import Path
from urllib.parse import quote

import pika
import pika.exceptions

from tests.harness.handle import LocalBroker
from tests.harness.ports import LOOPBACK, accepts_connections, free_port
from tests.harness.process import BrokerStartError, ServerProcess, run_command, wait_until
from tests.harness.tls import ServerTls

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
CLI_TIMEOUT_S = 60.0
AMQP_PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
RABBITMQ_LIBEXEC = Path("/usr/lib/rabbitmq/bin")  # Debian: the real scripts behind /usr/sbin's wrapper

CONFIG = """\
loopback_users.guest = true
disk_free_limit.absolute = 10MB
log.console = true
log.console.level = info
log.file = false
"""


def _rabbitmq_tool(name: str) -> str:
    direct = RABBITMQ_LIBEXEC / name
    if direct.is_file():
        return str(direct)
    found = shutil.which(name)
    if found is None:
        raise BrokerStartError(f"{name} is not installed: run scripts/install-brokers.sh (or make brokers)")
    return found


def _epmd_binary() -> str:
    found = shutil.which("epmd")
    if found is not None:
        return found
    candidates = sorted(glob.glob("/usr/lib/erlang/erts-*/bin/epmd"))
    if not candidates:
        raise BrokerStartError("epmd (Erlang) is not installed: run scripts/install-brokers.sh")
    return candidates[-1]


def amqp_handshake_answers(
    host: str, port: int, timeout_s: float = 1.0, *, tls: ssl.SSLContext | None = None
) -> bool:
    """True when the port speaks AMQP 0-9-1 (answers the protocol header with a Connection.Start frame),
    over TLS when ``tls`` is given."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw:
            if tls is None:
                raw.sendall(AMQP_PROTOCOL_HEADER)
                first = raw.recv(1)
            else:
                with tls.wrap_socket(raw, server_hostname=host) as sock:
                    sock.sendall(AMQP_PROTOCOL_HEADER)
                    first = sock.recv(1)
    except OSError:  # ssl.SSLError is an OSError
        return False
    return first == b"\x01"  # frame type METHOD


def _tls_config(port: int, tls: ServerTls) -> str:
    """A TLS-only node: no plain listener, the TLS one on ``port`` (loopback)."""
    verify = "verify_peer" if tls.verify_clients else "verify_none"
    return (
        "listeners.tcp = none\n"
        f"listeners.ssl.default = {LOOPBACK}:{port}\n"
        f"ssl_options.cacertfile = {tls.ca_file}\n"
        f"ssl_options.certfile = {tls.cert.cert_file}\n"
        f"ssl_options.keyfile = {tls.cert.key_file}\n"
        f"ssl_options.verify = {verify}\n"
        f"ssl_options.fail_if_no_peer_cert = {'true' if tls.verify_clients else 'false'}\n"
    )


def _user_config(username: str, password: str) -> str:
    """The node's first user (made on its first boot, instead of ``guest``)."""
    return (
        f"default_user = {username}\n"
        f"default_pass = {password}\n"
        "default_user_tags.administrator = true\n"
        "default_permissions.configure = .*\n"
        "default_permissions.read = .*\n"
        "default_permissions.write = .*\n"
    )


class RabbitMQServer(LocalBroker):
    """``user=(name, password)`` replaces ``guest`` with that user; ``tls`` makes the node TLS-only
    (``amqps://`` URL), with mutual TLS when ``tls.verify_clients``."""

    kind = "rabbitmq"

    def __init__(
        self,
        base_dir: Path | None = None,
        *,
        user: tuple[str, str] | None = None,
        tls: ServerTls | None = None,
    ) -> None:
        super().__init__(base_dir)
        self.user = user or ("guest", "guest")
        self.tls = tls
        self._custom_user = user is not None
        self.home_dir = self.base_dir / "home"
        self.mnesia_dir = self.base_dir / "mnesia"
        self.log_dir = self.base_dir / "log"
        for directory in (self.home_dir, self.mnesia_dir, self.log_dir):
            directory.mkdir(exist_ok=True)
        cookie = self.home_dir / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(16).upper(), encoding="ascii")
            cookie.chmod(0o400)
        self.plugins_file = self.base_dir / "enabled_plugins"
        self.plugins_file.write_text("[].\n", encoding="ascii")
        self.env_file = self.base_dir / "rabbitmq-env.conf"
        self.env_file.write_text("", encoding="ascii")
        self._dist_port = 0
        self._epmd_port = 0
        self._epmd: ServerProcess | None = None
        self._node: ServerProcess | None = None
        self.last_start_seconds: float | None = None
        self._restarting = False

    @property
    def url(self) -> str:
        name, password = (quote(part, safe="") for part in self.user)
        scheme = "amqps" if self.tls else "amqp"
        return f"{scheme}://{name}:{password}@{LOOPBACK}:{self.port}/%2F"

    @property
    def node_name(self) -> str:
        return f"backbone{self.port}@localhost"

    # -- ports and environment ------------------------------------------------------------------
    def _pick_port(self) -> int:
        self._stop_epmd()  # a retry on new ports gets a new epmd too
        self._dist_port = free_port()
        self._epmd_port = free_port()
        return free_port()

    def _env(self, port: int) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RABBITMQ_", "ERL_", "RUNNING_UNDER_SYSTEMD"))
        }
        if self.tls is None:  # a TLS node's listener is in its config file, and it has no plain one
            env.update(RABBITMQ_NODE_IP_ADDRESS=LOOPBACK, RABBITMQ_NODE_PORT=str(port))
        env.update(
            HOME=str(self.home_dir),
            ERL_EPMD_PORT=str(self._epmd_port),
            ERL_EPMD_ADDRESS=LOOPBACK,
            RABBITMQ_NODENAME=f"backbone{port}@localhost",
            RABBITMQ_DIST_PORT=str(self._dist_port),
            RABBITMQ_MNESIA_BASE=str(self.mnesia_dir),
            RABBITMQ_LOG_BASE=str(self.log_dir),
            RABBITMQ_LOGS="-",
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.plugins_file),
            RABBITMQ_CONFIG_FILE=str(self.base_dir / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.base_dir / "advanced.config"),
            RABBITMQ_CONF_ENV_FILE=str(self.env_file),
            RABBITMQ_PID_FILE=str(self.base_dir / "rabbitmq.pid"),
        )
        return env

    def _cli_env(self) -> dict[str, str]:
        env = self._env(self.port)
        cli_port = str(free_port())  # the CLI's own distribution port (default range may exceed 65535)
        env.update(RABBITMQ_CTL_DIST_PORT_MIN=cli_port, RABBITMQ_CTL_DIST_PORT_MAX=cli_port)
        return env

    # -- start ----------------------------------------------------------------------------------
    def _start_on(self, port: int) -> None:
        started = time.monotonic()
        env = self._env(port)
        self._start_epmd(env)
        config = CONFIG
        if self._custom_user:
            config += _user_config(*self.user)
        if self.tls is not None:
            config += _tls_config(port, self.tls)
        config_file = self.base_dir / "rabbitmq.conf"
        config_file.write_text(config, encoding="utf-8")
        config_file.chmod(0o600)
        node = ServerProcess(
            f"rabbitmq-server {env['RABBITMQ_NODENAME']}",
            [_rabbitmq_tool("rabbitmq-server")],
            log_path=self.log_path,
            env=env,
            cwd=self.base_dir,
        )
        self._node = node
        node.start()
        what = f"rabbitmq-server {env['RABBITMQ_NODENAME']} on port {port}"
        wait_until(
            lambda: amqp_handshake_answers(LOOPBACK, port, tls=self._harness_tls()),
            timeout_s=START_TIMEOUT_S,
            what=what,
            log=self.log_path,
            alive=node.running,
            interval_s=0.2,
        )
        wait_until(
            lambda: self._can_open_a_channel(port),
            timeout_s=30.0,
            what=f"{what} (AMQP login as {self.user[0]})",
            log=self.log_path,
            alive=node.running,
            interval_s=0.2,
        )
        if self._restarting:
            self._wait_for_queues_online(port, what)
        self._restarting = True  # every later start finds the queues of the previous run
        self.last_start_seconds = time.monotonic() - started
        logger.info("%s ready in %.1fs", what, self.last_start_seconds)

    def _start_epmd(self, env: dict[str, str]) -> None:
        if self._epmd is not None and self._epmd.running():
            return
        epmd = ServerProcess(
            f"epmd :{self._epmd_port}",
            [_epmd_binary(), "-port", str(self._epmd_port), "-address", LOOPBACK],
            log_path=self.base_dir / "epmd.log",
            env=env,
        )
        self._epmd = epmd
        epmd.start()
        wait_until(
            lambda: accepts_connections(LOOPBACK, self._epmd_port),
            timeout_s=10.0,
            what=f"epmd on port {self._epmd_port}",
            log=self.base_dir / "epmd.log",
            alive=epmd.running,
        )

    def _harness_tls(self) -> ssl.SSLContext | None:
        return self.tls.client_context() if self.tls is not None else None

    def _client_params(self, port: int) -> pika.ConnectionParameters:
        params = pika.ConnectionParameters(
            host=LOOPBACK,
            port=port,
            credentials=pika.PlainCredentials(*self.user),
            socket_timeout=2,
            blocked_connection_timeout=2,
            connection_attempts=1,
        )
        context = self._harness_tls()
        if context is not None:
            params.ssl_options = pika.SSLOptions(context, server_hostname=LOOPBACK)
        return params

    def _can_open_a_channel(self, port: int) -> bool:
        try:
            connection = pika.BlockingConnection(self._client_params(port))
        except pika.exceptions.AMQPError:
            return False
        try:
            connection.channel().close()
            return True
        except pika.exceptions.AMQPError:
            return False
        finally:
            if connection.is_open:
                connection.close()

    def _wait_for_queues_online(self, port: int, what: str) -> None:
        """After a restart, streams and quorum queues come back a moment after the AMQP listener:
        wait until every queue the node lists answers a passive declare."""
        code, output = run_command(
            [
                _rabbitmq_tool("rabbitmqctl"),
                "-n",
                self.node_name,
                "list_queues",
                "-q",
                "name",
                "--formatter",
                "json",
            ],
            env=self._cli_env(),
            timeout_s=CLI_TIMEOUT_S,
        )
        if code != 0:
            raise BrokerStartError(f"{what}: rabbitmqctl list_queues failed ({code}):\n{output}")
        names = [str(entry["name"]) for entry in json.loads(output or "[]")]
        for name in names:
            wait_until(
                functools.partial(self._queue_answers, port, name),
                timeout_s=60.0,
                what=f"{what}: queue {name!r} back online",
                log=self.log_path,
                interval_s=0.2,
            )

    def _queue_answers(self, port: int, queue: str) -> bool:
        try:
            connection = pika.BlockingConnection(self._client_params(port))
        except pika.exceptions.AMQPError:
            return False
        try:
            connection.channel().queue_declare(queue, passive=True)
            return True
        except pika.exceptions.AMQPError:
            return False
        finally:
            if connection.is_open:
                connection.close()

    # -- stop -----------------------------------------------------------------------------------
    def _stop_processes(self, *, graceful: bool) -> None:
        node, self._node = self._node, None
        if node is None:
            return
        if graceful and node.running():
            code, output = run_command(
                [_rabbitmq_tool("rabbitmqctl"), "-n", self.node_name, "stop"],
                env=self._cli_env(),
                timeout_s=CLI_TIMEOUT_S,
            )
            if code != 0:
                logger.warning("rabbitmqctl stop failed (%s); sending SIGTERM instead:\n%s", code, output)
            if not node.wait_exit(STOP_TIMEOUT_S):
                logger.warning(
                    "RabbitMQ node %s still running %ss after stop", self.node_name, STOP_TIMEOUT_S
                )
        node.stop(graceful=graceful, timeout_s=STOP_TIMEOUT_S)

    def _stop_epmd(self) -> None:
        epmd, self._epmd = self._epmd, None
        if epmd is not None:
            epmd.stop(timeout_s=5.0)

    def _release(self) -> None:
        self._stop_epmd()
