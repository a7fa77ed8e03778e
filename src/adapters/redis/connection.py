"""Redis clients for one broker URL, and the translation of driver errors into the domain's.

On one server, two clients share the settings: one for commands (bounded by
``operation_timeout_ms``) and one for the blocking wait on a queue's marker (its socket waits as long
as the wait asks, plus the timeout). With ``cluster=True`` one ``RedisCluster`` client does both: it
routes each call to the master owning the queue's slot (every key of a queue shares one slot) and
follows ``MOVED`` and failovers; the blocking wait borrows a connection of that master's node.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ClusterError, InvalidResponse, ResponseError, SlotNotCoveredError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from adapters.redis.settings import RedisSettings
from application.connection_errors import tls_failure
from application.redaction import redact_url
from domain.queue.errors import BrokerUnavailableError

_hiredis_pack: Callable[[tuple[Any, ...]], bytes] | None
try:
    from hiredis import pack_command as _hiredis_pack
except ImportError:  # redis-py works without it: commands are then packed in Python
    _hiredis_pack = None

logger = logging.getLogger(__name__)

RedisClient = Redis | RedisCluster
# What says "the server (or the cluster's master for this slot) cannot serve now": a broker error.
# InvalidResponse: not Redis at all; the cluster ones: a failover or resharding under way.
_UNAVAILABLE = (
    RedisConnectionError,
    InvalidResponse,
    OSError,
    ClusterError,
    TryAgainError,
    SlotNotCoveredError,
)
_UNBLOCK_BACKSTOP_S = 0.25  # the server's own timeout, past the client's: only used if UNBLOCK fails


class _HiredisPacking:
    """Commands packed by hiredis (C) instead of redis-py's asyncio packer (Python, one call per argument).

    redis-py's synchronous client does this when hiredis is installed; its asyncio connection does
    not. Arguments other than ``str``/``bytes``/``int``/``float`` (and any packing error) take
    redis-py's own path, so its checks and messages stay the same.
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        if _hiredis_pack is not None:
            first = args[0]
            # like redis-py: a command name with spaces ("SCRIPT LOAD") is sent as separate words
            words = tuple(first.encode().split()) if isinstance(first, str) else (first,)
            rest = args[1:]
            if all(type(arg) in _PACKABLE for arg in rest) and type(first) in _PACKABLE:
                try:
                    return [_hiredis_pack(words + rest)]
                except (TypeError, UnicodeEncodeError):
                    pass
        packed: list[bytes] = super().pack_command(*args)  # type: ignore[misc]  # the mixin's partner
        return packed


_PACKABLE = frozenset({str, bytes, int, float})


class _PackedConnection(_HiredisPacking, Connection):
    pass


class _PackedSSLConnection(_HiredisPacking, SSLConnection):
    pass


def _tls_options(settings: RedisSettings) -> dict[str, Any]:
    if not settings.uses_tls:
        return {}
    return {
        "ssl_ca_certs": settings.tls_ca_file,
        "ssl_certfile": settings.tls_cert_file,
        "ssl_keyfile": settings.tls_key_file,
        "ssl_check_hostname": settings.tls_verify,
        "ssl_cert_reqs": "required" if settings.tls_verify else "none",
    }


def _cluster_client(settings: RedisSettings) -> RedisCluster:
    """One client for the whole cluster, discovering it from the URL's node.

    Its retries (a few, with a short backoff) ride over a ``MOVED`` after resharding and refresh the
    slot map after a failover; an outage longer than that is a broker error like on one server.
    """
    return RedisCluster.from_url(
        settings.url,
        socket_connect_timeout=settings.connect_timeout_ms / 1000,
        socket_timeout=settings.operation_timeout_ms / 1000,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
        max_connections=settings.max_connections,
        decode_responses=False,
        client_name="messaging-backbone",
        ssl=settings.uses_tls,
        **_tls_options(settings),
    )


def _client(settings: RedisSettings, *, socket_timeout: float | None, blocking: bool) -> Redis:
    """A client whose pool waits (up to the operation timeout) for a free connection when all are busy.

    The client for blocking waits holds one connection per waiting claim, so it is not capped.
    """
    extra = _tls_options(settings)
    pool = BlockingConnectionPool.from_url(
        settings.url,
        socket_connect_timeout=settings.connect_timeout_ms / 1000,
        socket_timeout=socket_timeout,
        retry=Retry(NoBackoff(), 1),
        max_connections=2**31 if blocking else settings.max_connections,
        timeout=settings.operation_timeout_ms / 1000,
        decode_responses=False,
        client_name="messaging-backbone",
        **extra,
    )
    pool.connection_class = _PackedSSLConnection if settings.uses_tls else _PackedConnection
    return Redis.from_pool(pool)  # the client owns the pool: closing it closes the pool


class RedisConnection:
    """The clients of one broker URL; errors leave here as ``BrokerUnavailableError``."""

    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        self.redacted_url = redact_url(settings.url)
        self._password = urlsplit(settings.url).password
        self.commands: RedisClient
        self.blocking: Redis | None = None
        if settings.cluster:
            self.commands = _cluster_client(settings)
        else:
            timeout_s = settings.operation_timeout_ms / 1000
            self.commands = _client(settings, socket_timeout=timeout_s, blocking=False)
            self.blocking = _client(settings, socket_timeout=None, blocking=True)
        self._timeout_s = settings.operation_timeout_ms / 1000
        self._client_ids: weakref.WeakKeyDictionary[AbstractConnection, int] = weakref.WeakKeyDictionary()
        self._unblocking: set[asyncio.Task[None]] = set()
        self._closed = False

    def guard(self, what: str) -> _Guard:
        """Translate connection failures of one operation; redis-py's socket timeouts bound it."""
        return _Guard(self, what)

    @asynccontextmanager
    async def guard_wait(self, what: str, wait_s: float) -> AsyncIterator[None]:
        """Bound a blocking wait (whose socket has no timeout) by ``wait_s`` plus the operation timeout."""
        try:
            async with asyncio.timeout(self._timeout_s + wait_s):
                yield
        except TimeoutError as exc:
            reason = f"{what}: no answer within {self.settings.operation_timeout_ms} ms"
            raise BrokerUnavailableError(self.redacted_url, reason) from exc
        except (RedisTimeoutError, *_UNAVAILABLE) as exc:
            raise BrokerUnavailableError(self.redacted_url, f"{what}: {self._safe(exc)}") from exc

    async def wait_for_signal(self, key: str, wait_s: float) -> bool:
        """``BZPOPMIN key`` for ``wait_s`` seconds, ended on time by the client; True if popped.

        Redis checks blocking timeouts only about every 100 ms (``hz 10``), so the server's own
        timeout may fire that much late. Instead the wait is ended at ``wait_s`` with ``CLIENT
        UNBLOCK`` from the command connection: on time, and the blocked connection stays usable (a
        cancelled read would have to be dropped). The server timeout stays as a backstop.
        """
        if isinstance(self.commands, RedisCluster):
            return await self._wait_on_cluster_node(self.commands, key, wait_s)
        assert self.blocking is not None
        async with self.guard_wait("wait for work", wait_s + _UNBLOCK_BACKSTOP_S):
            pool = self.blocking.connection_pool
            connection = await pool.get_connection()  # type: ignore[no-untyped-call]  # redis-py untyped
            try:
                client_id = self._client_ids.get(connection)
                if client_id is None:
                    await connection.send_command("CLIENT", "ID")
                    client_id = int(await connection.read_response())
                    self._client_ids[connection] = client_id
                await connection.send_command("BZPOPMIN", key, round(wait_s + _UNBLOCK_BACKSTOP_S, 3))
                timer = asyncio.get_running_loop().call_later(wait_s, self._unblock, client_id)
                try:
                    reply = await connection.read_response()
                finally:
                    timer.cancel()
            except BaseException:
                # A half-read reply must not reach the next caller. ``nowait`` closes the socket at
                # once, so a second cancellation cannot leave it open.
                await connection.disconnect(nowait=True)
                raise
            finally:
                await pool.release(connection)
        return reply is not None

    async def _wait_on_cluster_node(self, cluster: RedisCluster, key: str, wait_s: float) -> bool:
        """The same wait on a connection of the master owning ``key``'s slot; the UNBLOCK goes there too.

        A failed wait leaves the slot map as it is: the queue's next script call refreshes it.
        """
        async with self.guard_wait("wait for work", wait_s + _UNBLOCK_BACKSTOP_S):
            node = cluster.get_node_from_key(key)
            if node is None:
                raise SlotNotCoveredError(f"no master serves the slot of {key!r}")
            connection = node.acquire_connection()
            try:
                await connection.connect()  # type: ignore[no-untyped-call]  # redis-py untyped
                client_id = self._client_ids.get(connection)
                if client_id is None:
                    await connection.send_command("CLIENT", "ID")
                    client_id = int(await connection.read_response())
                    self._client_ids[connection] = client_id
                await connection.send_command("BZPOPMIN", key, round(wait_s + _UNBLOCK_BACKSTOP_S, 3))
                timer = asyncio.get_running_loop().call_later(wait_s, self._unblock, client_id, node)
                try:
                    read_timeout_s = wait_s + 2 * _UNBLOCK_BACKSTOP_S + self._timeout_s
                    reply = await connection.read_response(timeout=read_timeout_s)
                finally:
                    timer.cancel()
            except BaseException:
                await connection.disconnect(nowait=True)
                raise
            finally:
                node.release(connection)
        return reply is not None

    def _unblock(self, client_id: int, node: ClusterNode | None = None) -> None:
        if self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._send_unblock(client_id, node))
        self._unblocking.add(task)
        task.add_done_callback(self._unblocking.discard)

    async def _send_unblock(self, client_id: int, node: ClusterNode | None) -> None:
        try:
            if node is not None:
                await node.execute_command("CLIENT", "UNBLOCK", client_id)
            else:
                await self.commands.client_unblock(client_id)
        except (RedisConnectionError, RedisTimeoutError, OSError, ResponseError) as exc:
            # The blocked read ends with the server's own timeout (or fails with the same outage).
            logger.debug("redis %s: CLIENT UNBLOCK failed: %s", self.redacted_url, self._safe(exc))

    def _safe(self, exc: BaseException) -> str:
        text = tls_failure(exc) or f"{type(exc).__name__}: {exc}"
        if self._password:
            text = text.replace(self._password, "***")
        return text

    async def check_eviction_policy(self) -> None:
        """Jobs must never be evicted: warn when ``maxmemory-policy`` is not ``noeviction``."""
        try:
            async with self.guard("config get"):
                reply = await self.commands.config_get("maxmemory-policy")
        except ResponseError as exc:  # CONFIG may be disabled on managed servers
            logger.info("redis %s: cannot read maxmemory-policy (%s)", self.redacted_url, exc)
            return
        values: dict[Any, Any] = dict(reply)
        policy = values.get(b"maxmemory-policy") or values.get("maxmemory-policy")
        if isinstance(policy, bytes):
            policy = policy.decode()
        if policy is not None and policy != "noeviction":
            logger.warning(
                "redis %s has maxmemory-policy=%s: jobs may be evicted under memory pressure; "
                "set maxmemory-policy noeviction",
                self.redacted_url,
                policy,
            )

    async def close(self) -> None:
        # An UNBLOCK still on its way would open a new command connection after the pool is closed.
        self._closed = True
        for task in list(self._unblocking):
            task.cancel()
        await asyncio.gather(*self._unblocking, return_exceptions=True)
        await self.commands.aclose()
        if self.blocking is not None:
            await self.blocking.aclose()


class _Guard:
    """``async with connection.guard("add"):`` (a plain class: it runs on every call)."""

    __slots__ = ("_connection", "_what")

    def __init__(self, connection: RedisConnection, what: str) -> None:
        self._connection = connection
        self._what = what

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc is None:
            return
        connection = self._connection
        if isinstance(exc, RedisTimeoutError | TimeoutError):
            reason = f"{self._what}: no answer within {connection.settings.operation_timeout_ms} ms"
            raise BrokerUnavailableError(connection.redacted_url, reason) from exc
        if isinstance(exc, _UNAVAILABLE):
            raise BrokerUnavailableError(
                connection.redacted_url, f"{self._what}: {connection._safe(exc)}"
            ) from exc
