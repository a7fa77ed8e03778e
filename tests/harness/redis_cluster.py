"""A local Redis Cluster: three masters with one replica each, ``redis-server`` in cluster mode on
free loopback ports (Debian package ``redis-server``), built with ``CLUSTER MEET``/``ADDSLOTSRANGE``/
``CLUSTER REPLICATE`` so no ``redis-cli`` is needed.

``kill_master_of(key)`` SIGKILLs the master that owns a key's slot and waits until its replica has
taken over (``cluster-node-timeout`` is short, so this takes one to three seconds).
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.harness.ports import LOOPBACK, free_port
from tests.harness.process import BrokerStartError, ServerProcess, wait_until
from tests.harness.redis_server import redis_server_binary

MASTERS = 3
NODE_TIMEOUT_MS = 1000
START_TIMEOUT_S = 30.0
FAILOVER_TIMEOUT_S = 30.0
SLOTS = 16384


@dataclass
class ClusterNode:
    port: int
    bus_port: int
    process: ServerProcess

    def client(self) -> redis.Redis:
        return redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=2)


class LocalRedisCluster:
    """Six ``redis-server`` processes forming one cluster; ``url`` names one master (a seed node).

    ``durable=True`` turns on each node's append-only file with fsync on every write, so what the
    cluster acknowledged survives ``restart()`` (every node killed and started again)."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.base_dir = Path(tempfile.mkdtemp(prefix="backbone-redis-cluster-"))
        self.nodes: list[ClusterNode] = []

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.nodes[0].port}/0"

    def start(self) -> None:
        for index in range(MASTERS * 2):
            port, bus_port = free_port(), free_port()
            node_dir = self.base_dir / f"node-{index}"
            node_dir.mkdir()
            argv = [
                redis_server_binary(),
                "--port", str(port),
                "--bind", LOOPBACK,
                "--dir", str(node_dir),
                "--save", "",
                "--appendonly", "yes" if self.durable else "no",
                "--appendfsync", "always",
                "--protected-mode", "yes",
                "--maxmemory-policy", "noeviction",
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(node_dir / "nodes.conf"),
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                "--cluster-port", str(bus_port),  # the bus port, also free (not port + 10000)
            ]  # fmt: skip
            process = ServerProcess(f"redis-cluster-{index}", argv, log_path=node_dir / "redis.log")
            process.start()
            self.nodes.append(ClusterNode(port, bus_port, process))
        self._wait_for_pings()
        self._form()

    def _wait_for_pings(self) -> None:
        for node in self.nodes:
            with node.client() as client:
                wait_until(functools.partial(_pings, client), timeout_s=START_TIMEOUT_S, what="redis cluster node",
                           alive=node.process.running, log=node.process.log_path)  # fmt: skip

    def restart(self) -> None:
        """Kill every node and start it again on its port with its data and ``nodes.conf``."""
        for node in self.nodes:
            node.process.stop(graceful=False)
        for node in self.nodes:
            node.process.start()
        self._wait_for_pings()
        wait_until(self._healthy, timeout_s=START_TIMEOUT_S, what="redis cluster state ok after restart")

    async def arestart(self) -> None:
        await asyncio.to_thread(self.restart)

    def _form(self) -> None:
        with self.nodes[0].client() as first:
            for node in self.nodes[1:]:
                first.execute_command("CLUSTER", "MEET", LOOPBACK, node.port, node.bus_port)
        masters, replicas = self.nodes[:MASTERS], self.nodes[MASTERS:]
        per_master = SLOTS // MASTERS
        for index, node in enumerate(masters):
            low = index * per_master
            high = SLOTS - 1 if index == MASTERS - 1 else low + per_master - 1
            with node.client() as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high)
        for master, replica in zip(masters, replicas, strict=True):
            with master.client() as client:
                master_id = client.execute_command("CLUSTER", "MYID").decode()
            with replica.client() as client:
                wait_until(functools.partial(_knows, client, master_id), timeout_s=START_TIMEOUT_S,
                           what="replica sees its master", alive=replica.process.running)  # fmt: skip
                client.execute_command("CLUSTER", "REPLICATE", master_id)
        wait_until(
            self._healthy, timeout_s=START_TIMEOUT_S, what="redis cluster state ok with replicas in sync"
        )

    def _healthy(self) -> bool:
        for node in self.nodes:
            if not node.process.running():
                continue
            try:
                with node.client() as client:
                    if b"cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
                        return False
                    info = client.info("replication")
                    if info.get("role") == "slave" and info.get("master_link_status") != "up":
                        return False
            except redis.RedisError:
                return False
        return True

    def master_port_of(self, key: str) -> int:
        """The port of the master currently owning ``key``'s slot (asked of any live node)."""
        for node in self.nodes:
            if not node.process.running():
                continue
            with node.client() as client:
                slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
                for low, high, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                    if low <= slot <= high:
                        return int(master[1])
        raise BrokerStartError("no live node of the redis cluster answers")

    def replicas_caught_up(self) -> bool:
        """Every live replica has applied everything its master has written."""
        for node in self.nodes:
            if not node.process.running():
                continue
            with node.client() as client:
                info = client.info("replication")
            if info.get("role") != "master":
                continue
            offset = int(info["master_repl_offset"])
            for name, value in info.items():
                if name.startswith("slave") and isinstance(value, dict) and int(value["offset"]) < offset:
                    return False
        return True

    def kill_master_of(self, key: str) -> int:
        """SIGKILL the master owning ``key``'s slot; return once another node serves that slot."""
        port = self.master_port_of(key)
        victim = next(node for node in self.nodes if node.port == port)
        victim.process.stop(graceful=False)
        wait_until(lambda: self.master_port_of(key) != port, timeout_s=FAILOVER_TIMEOUT_S,
                   what="a replica promoted in place of the killed master")  # fmt: skip
        wait_until(self._slots_served, timeout_s=FAILOVER_TIMEOUT_S, what="cluster state ok after failover")
        return port

    def _slots_served(self) -> bool:
        for node in self.nodes:
            if node.process.running():
                with node.client() as client:
                    return b"cluster_state:ok" in client.execute_command("CLUSTER", "INFO")
        return False

    def close(self) -> None:
        for node in self.nodes:
            node.process.stop(graceful=False)
        shutil.rmtree(self.base_dir, ignore_errors=True)


def start_local_redis_cluster(*, durable: bool = False) -> LocalRedisCluster:
    cluster = LocalRedisCluster(durable=durable)
    try:
        cluster.start()
    except BaseException:
        cluster.close()
        raise
    return cluster


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def _knows(client: redis.Redis, node_id: str) -> bool:
    nodes = client.execute_command("CLUSTER", "NODES")  # type: ignore[no-untyped-call]
    text = nodes.decode() if isinstance(nodes, bytes) else str(nodes)
    return node_id in text
