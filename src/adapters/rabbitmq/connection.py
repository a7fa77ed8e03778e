"""``AmqpLink``: one pika ``AsyncioConnection`` driven from the running event loop, behind futures.

pika calls back on the event loop's thread (its asyncio adapter registers the socket with the
loop), so nothing ever blocks the loop and every callback may resolve asyncio futures directly.
The link reconnects lazily: after the connection is lost, the next ``channel()`` call opens a new
one (within the connect timeout). Errors are ``BrokerUnavailableError`` with the redacted URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import pika
import pika.exceptions
from pika.adapters.asyncio_connection import AsyncioConnection

from adapters.rabbitmq.channel import AmqpChannel
from adapters.rabbitmq.settings import RabbitMQSettings
from application.connection_errors import client_tls_context, tls_failure
from application.redaction import redact_url
from domain.queue.errors import BrokerUnavailableError

logger = logging.getLogger(__name__)

AMQP_SCHEMES = ("amqp", "amqps")
RETRY_AFTER_FAILURE_S = 0.25  # after a failed connect, callers fail fast this long (no connect storm)


def connection_parameters(url: str, settings: RabbitMQSettings) -> pika.URLParameters:
    """pika parameters from an ``amqp://`` / ``amqps://`` URL (vhost in the path, ``%2F`` = ``/``)."""
    scheme = urlsplit(url).scheme
    if scheme not in AMQP_SCHEMES:
        raise BrokerUnavailableError(redact_url(url), f"not an AMQP URL (scheme {scheme!r})")
    try:
        params = pika.URLParameters(url)
    except (ValueError, TypeError) as exc:
        raise BrokerUnavailableError(redact_url(url), f"invalid AMQP URL: {type(exc).__name__}") from None
    params.connection_attempts = 1
    params.socket_timeout = settings.connect_timeout_s
    params.stack_timeout = settings.connect_timeout_s
    params.blocked_connection_timeout = settings.operation_timeout_s
    params.heartbeat = settings.heartbeat_s
    params.client_properties = {"connection_name": "messaging-backbone"}
    if scheme == "amqps":
        context = client_tls_context(
            redact_url(url),
            ca_file=settings.tls_ca_file,
            cert_file=settings.tls_cert_file,
            key_file=settings.tls_key_file,
            verify=settings.tls_verify,
        )
        params.ssl_options = pika.SSLOptions(context, server_hostname=params.host)
    return params


def _reason(exc: BaseException | None) -> str:
    """A short description of a pika error that never includes credentials."""
    if exc is None:
        return "connection lost"
    tls = tls_failure(exc)
    if tls is not None:
        return tls
    if isinstance(
        exc, pika.exceptions.ProbableAuthenticationError | pika.exceptions.ProbableAccessDeniedError
    ):
        return "authentication refused (check the user, password and vhost)"
    if isinstance(exc, pika.exceptions.ConnectionClosedByBroker | pika.exceptions.ChannelClosedByBroker):
        return f"closed by broker: {exc.reply_code} {exc.reply_text}"
    return type(exc).__name__


class AmqpLink:
    """One AMQP connection (reopened on demand) handing out channels."""

    def __init__(self, url: str, settings: RabbitMQSettings) -> None:
        self.redacted_url = redact_url(url)
        self._url = url
        self._settings = settings
        self._connection: AsyncioConnection | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._failure: tuple[float, str] | None = None  # (monotonic time, reason) of the last failed connect

    def unavailable(self, reason: str) -> BrokerUnavailableError:
        return BrokerUnavailableError(self.redacted_url, reason)

    async def channel(self) -> AmqpChannel:
        """A new open channel (connecting first if needed)."""
        connection = await self._ensure_connection()
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[Any] = loop.create_future()

        def on_open(channel: Any) -> None:
            if not opened.done():
                opened.set_result(channel)

        def on_close(_channel: Any, exc: BaseException) -> None:
            if not opened.done():
                opened.set_exception(self.unavailable(f"cannot open a channel: {_reason(exc)}"))

        try:
            pending = connection.channel(on_open_callback=on_open)
        except pika.exceptions.AMQPError as exc:
            raise self.unavailable(f"cannot open a channel: {_reason(exc)}") from exc
        pending.add_on_close_callback(on_close)
        try:
            raw = await asyncio.wait_for(opened, self._settings.operation_timeout_s)
        except TimeoutError:
            if pending.is_open or pending.is_opening:
                with contextlib.suppress(pika.exceptions.AMQPError):
                    pending.close()
            raise self.unavailable("opening a channel timed out") from None
        return AmqpChannel(raw, self.redacted_url)

    async def _ensure_connection(self) -> AsyncioConnection:
        if self._closed:
            raise self.unavailable("the broker handle is closed")
        connection = self._connection
        if connection is not None and connection.is_open:
            return connection
        async with self._lock:
            connection = self._connection
            if connection is not None and connection.is_open:
                return connection
            failure = self._failure
            if failure is not None and time.monotonic() - failure[0] < RETRY_AFTER_FAILURE_S:
                raise self.unavailable(failure[1])
            try:
                connection = await self._connect()
            except BrokerUnavailableError as exc:
                self._failure = (time.monotonic(), exc.reason)
                raise
            if self._closed:  # closed while connecting: do not leave this connection behind
                self._abort(connection)
                raise self.unavailable("the broker handle is closed")
            self._connection = connection
            self._failure = None
            return self._connection

    async def _connect(self) -> AsyncioConnection:
        params = connection_parameters(self._url, self._settings)
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[AsyncioConnection] = loop.create_future()

        def on_open(connection: Any) -> None:
            if not opened.done():
                opened.set_result(connection)

        def on_open_error(_connection: Any, exc: BaseException) -> None:
            if not opened.done():
                opened.set_exception(self.unavailable(f"cannot connect: {_reason(exc)}"))

        def on_close(connection: Any, exc: BaseException) -> None:
            if not opened.done():
                opened.set_exception(self.unavailable(f"cannot connect: {_reason(exc)}"))
            elif not self._closed:
                logger.warning("AMQP connection lost broker=%s: %s", self.redacted_url, _reason(exc))
            if self._connection is connection:
                self._connection = None

        connection = AsyncioConnection(
            params,
            on_open_callback=on_open,
            on_open_error_callback=on_open_error,
            on_close_callback=on_close,
            custom_ioloop=loop,
        )
        try:
            return await asyncio.wait_for(opened, self._settings.connect_timeout_s)
        except TimeoutError:
            self._abort(connection)
            raise self.unavailable(f"no connection within {self._settings.connect_timeout_ms} ms") from None
        except asyncio.CancelledError:
            self._abort(connection)
            raise

    @staticmethod
    def _abort(connection: AsyncioConnection) -> None:
        if connection.is_closed or connection.is_closing:
            return
        try:
            connection.close()
        except pika.exceptions.AMQPError:  # still handshaking: pika refuses; its stack timeout ends it
            logger.debug("could not close a half-open AMQP connection")

    def drop(self) -> None:
        """Close the current connection (tests use it to simulate a network cut); the next call reconnects."""
        connection, self._connection = self._connection, None
        if connection is not None:
            self._abort(connection)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        connection, self._connection = self._connection, None
        if connection is None or connection.is_closed:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def on_closed(_connection: Any, _exc: BaseException) -> None:
            if not done.done():
                done.set_result(None)

        connection.add_on_close_callback(on_closed)
        self._abort(connection)
        try:
            await asyncio.wait_for(done, self._settings.operation_timeout_s)
        except TimeoutError:
            logger.warning("AMQP connection did not close in time broker=%s", self.redacted_url)
