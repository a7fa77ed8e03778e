"""A loopback TCP proxy in front of a broker, for outage and reconnect tests.

``cut()`` drops every open connection and stops listening (new connections are refused, as with a
broker that is down); ``restore()`` listens again on the same port. The proxy runs its own event loop
on a daemon thread, so it works from sync and async tests alike and is independent of the test's loop.

    proxy = TcpProxy.start("127.0.0.1", broker.port)
    url = proxy.proxied_url(broker.url)
    proxy.cut(); ...; proxy.restore()
    proxy.close()

``tls`` (a server-side ``SSLContext``) makes the proxy a TLS front: clients talk TLS to it and it
forwards the plain bytes (Tansu 0.6.0 cannot serve TLS itself; see docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from tests.harness.ports import LOOPBACK, free_port

logger = logging.getLogger(__name__)

T = TypeVar("T")

CONTROL_TIMEOUT_S = 10.0
CHUNK = 64 * 1024


class TcpProxy:
    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        listen_port: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.target_host = target_host
        self.tls = tls
        self.target_port = target_port
        self.port = listen_port if listen_port is not None else free_port()
        self.host = LOOPBACK
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"tcp-proxy-{self.port}", daemon=True
        )
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()
        self._closed = False
        self.accepted = 0

    # -- life cycle -------------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        target_host: str,
        target_port: int,
        *,
        listen_port: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> TcpProxy:
        proxy = cls(target_host, target_port, listen_port=listen_port, tls=tls)
        proxy._thread.start()
        try:
            proxy._call(proxy._listen())
        except BaseException:
            proxy.close()
            raise
        return proxy

    @classmethod
    async def astart(cls, target_host: str, target_port: int, *, listen_port: int | None = None) -> TcpProxy:
        return await asyncio.to_thread(cls.start, target_host, target_port, listen_port=listen_port)

    @property
    def is_cut(self) -> bool:
        return self._server is None

    def proxied_url(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's (credentials and path kept)."""
        parts = urlsplit(url)
        userinfo, _, _ = parts.netloc.rpartition("@")
        netloc = f"{userinfo}@{self.host}:{self.port}" if userinfo else f"{self.host}:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def cut(self) -> None:
        """Drop all connections and refuse new ones until ``restore()``."""
        self._call(self._cut())

    def restore(self) -> None:
        """Accept connections again, on the same port."""
        self._call(self._listen())

    async def acut(self) -> None:
        await asyncio.to_thread(self.cut)

    async def arestore(self) -> None:
        await asyncio.to_thread(self.restore)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self._call(self._cut())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=CONTROL_TIMEOUT_S)
        if not self._loop.is_running():
            self._loop.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inside the proxy's loop --------------------------------------------------------------------
    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=CONTROL_TIMEOUT_S)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, self.host, self.port, ssl=self.tls)

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._connections):
            writer.transport.abort()
        self._connections.clear()
        pumps = list(self._pumps)
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=CONTROL_TIMEOUT_S)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._server is None:
            client_writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(self.target_host, self.target_port), timeout=CONTROL_TIMEOUT_S
            )
        except (OSError, TimeoutError):
            client_writer.transport.abort()  # the broker itself is down: behave like it
            return
        if self._server is None:  # cut while we were connecting
            client_writer.transport.abort()
            upstream_writer.transport.abort()
            return
        self._connections.update((client_writer, upstream_writer))
        task = asyncio.create_task(
            self._relay(client_reader, client_writer, upstream_reader, upstream_writer)
        )
        self._pumps.add(task)
        task.add_done_callback(self._pumps.discard)

    async def _relay(
        self,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        upstream_reader: asyncio.StreamReader,
        upstream_writer: asyncio.StreamWriter,
    ) -> None:
        try:
            await asyncio.gather(
                self._pump(client_reader, upstream_writer), self._pump(upstream_reader, client_writer)
            )
        except OSError:
            pass
        finally:
            for writer in (client_writer, upstream_writer):
                self._connections.discard(writer)
                writer.transport.abort()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction until EOF, then half-close the other side."""
        try:
            while chunk := await reader.read(CHUNK):
                writer.write(chunk)
                await writer.drain()
        except OSError:
            writer.transport.abort()
            raise
        if writer.can_write_eof() and not writer.transport.is_closing():
            writer.write_eof()
