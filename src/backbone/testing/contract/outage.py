"""``OutageProxy``: a loopback TCP proxy the contract puts in front of a broker it does not own.

The contract's outage behaviour needs the broker to be unreachable for a moment. A user's broker
cannot be restarted from the tests, so every connection the suite makes (its queue handles and its
worker processes) goes through this proxy; ``interrupt()`` closes every open connection and
refuses new ones for a moment, then listens again on the same port. It runs its own event loop on
a daemon thread, so the test's loop and a blocked client cannot stall it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

T = TypeVar("T")

LOOPBACK = "127.0.0.1"
CHUNK = 64 * 1024
CONTROL_TIMEOUT_S = 10.0


def free_port() -> int:
    """A TCP port nothing listens on right now (on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


class OutageProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="outage-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @classmethod
    def in_front_of(cls, url: str) -> OutageProxy:
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise ValueError("the broker URL must name its host and port")
        proxy = cls(parts.hostname, parts.port)
        proxy._thread.start()
        proxy._call(proxy._listen())
        return proxy

    def proxied(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's (user, password and path kept)."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@{LOOPBACK}:{self.port}" if credentials else f"{LOOPBACK}:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    async def interrupt(self, down_s: float = 0.5) -> None:
        """Close every connection and refuse new ones for ``down_s``, then listen again."""
        await asyncio.to_thread(self._call, self._cut())
        await asyncio.sleep(down_s)
        await asyncio.to_thread(self._call, self._listen())

    def close(self) -> None:
        if self._thread.is_alive():
            self._call(self._finish())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CONTROL_TIMEOUT_S)
        if not self._loop.is_running():
            self._loop.close()

    # --- on the proxy's own loop ---------------------------------------------------------------

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CONTROL_TIMEOUT_S)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, LOOPBACK, self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(OSError):
                transport = writer.transport
                if isinstance(transport, asyncio.Transport):
                    transport.abort()  # a reset, as when the broker's host goes away
        self._writers.clear()

    async def _finish(self) -> None:
        await self._cut()
        pumps = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            client_writer.close()
            return
        self._writers.update((client_writer, upstream_writer))
        await asyncio.gather(
            self._pump(client_reader, upstream_writer),
            self._pump(upstream_reader, client_writer),
            return_exceptions=True,
        )
        self._writers.difference_update((client_writer, upstream_writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(CHUNK):
                writer.write(chunk)
                await writer.drain()
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()
