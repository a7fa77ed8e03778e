"""``KafkaConnection``: the aiokafka clients one broker object shares between its queues.

One producer (acks=all, ordered appends), one idle consumer for end-offset barriers (kept apart
from the tailing consumers: a barrier must not queue behind a long-poll fetch), an admin client
for topic creation, and a factory for per-queue tailing and group consumers. Driver errors become
``BrokerUnavailableError`` naming the broker by its redacted URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from adapters.kafka.settings import KafkaSettings
from application.connection_errors import client_tls_context, tls_failure
from domain.queue.errors import BrokerUnavailableError

logger = logging.getLogger(__name__)

T = TypeVar("T")
TOPIC_ALREADY_EXISTS = 36
MAX_REQUEST_BYTES = 1024 * 1024
# aiokafka's SCRAM client indexes the server's final message without checking for an error
# attribute: a refused login surfaces as a KeyError (or ValueError) from inside the exchange.
_SASL_EXCHANGE_ERRORS = (KeyError, ValueError)


class KafkaConnection:
    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._known_topics: set[str] = set()
        self._ssl_context: ssl.SSLContext | None = None

    @property
    def broker(self) -> str:
        return self.settings.redacted_url

    # --- lifecycle ------------------------------------------------------------------------------

    def client_options(self) -> dict[str, Any]:
        s = self.settings
        options: dict[str, Any] = {
            "bootstrap_servers": s.bootstrap_servers,
            "client_id": f"{s.key_prefix}-backbone",
            "request_timeout_ms": s.operation_timeout_ms,
            "retry_backoff_ms": 50,
            "security_protocol": s.security_protocol,
        }
        if "SSL" in s.security_protocol:
            options["ssl_context"] = self._tls_context()
        credentials = s.sasl_credentials
        if "SASL" in s.security_protocol and credentials is not None:
            options["sasl_mechanism"] = s.sasl_mechanism
            options["sasl_plain_username"] = credentials[0]
            options["sasl_plain_password"] = credentials[1]
        return options

    def _tls_context(self) -> ssl.SSLContext:
        """One context for every client of this connection: the CA (or the system's trust store),
        the client certificate for mutual TLS, and verification unless ``tls_verify`` is False."""
        if self._ssl_context is None:
            s = self.settings
            self._ssl_context = client_tls_context(
                self.broker,
                ca_file=s.tls_ca_file,
                cert_file=s.tls_cert_file,
                key_file=s.tls_key_file,
                verify=s.tls_verify,
            )
        return self._ssl_context

    async def _why_not_connected(self) -> str | None:
        """After a failed connect to a reachable broker: the TLS or SASL problem, when it was one.

        aiokafka reports a failed bootstrap as ``KafkaConnectionError`` without its cause, so the
        connection (and TLS handshake) is tried once more here to learn the reason.
        """
        s = self.settings
        uses_tls = "SSL" in s.security_protocol
        host, _, port = s.bootstrap_servers[0].rpartition(":")
        try:
            async with asyncio.timeout(s.connect_timeout_ms / 1000):
                _, writer = await asyncio.open_connection(
                    host,
                    int(port),
                    ssl=self._tls_context() if uses_tls else None,
                    server_hostname=host if uses_tls else None,
                )
        except (OSError, TimeoutError, ValueError) as exc:  # ssl.SSLError is an OSError
            return tls_failure(exc) if uses_tls else None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        if "SASL" in s.security_protocol:
            user = s.sasl_credentials[0] if s.sasl_credentials else ""
            return (
                f"SASL {s.sasl_mechanism} login as {user!r} failed: refused, or the broker does not "
                "offer that mechanism (check the user, the password and sasl_mechanism)"
            )
        return None

    async def start(self) -> None:
        """Connect the shared clients (idempotent; retried on the next call after a failure)."""
        try:
            await self._start()
        except BrokerUnavailableError as exc:
            reason = await self._why_not_connected()
            if reason is None:
                raise
            raise BrokerUnavailableError(self.broker, f"connecting failed: {reason}") from exc
        except _SASL_EXCHANGE_ERRORS:
            if "SASL" not in self.settings.security_protocol:
                raise
            reason = await self._why_not_connected() or "the SASL exchange failed"
            raise BrokerUnavailableError(self.broker, f"connecting failed: {reason}") from None

    async def _start(self) -> None:
        async with self._lock:
            if self._producer is not None:
                return
            producer = AIOKafkaProducer(
                **self.client_options(),
                acks="all",
                enable_idempotence=self.settings.enable_idempotence,
                linger_ms=self.settings.linger_ms,
                max_request_size=MAX_REQUEST_BYTES,
                max_batch_size=MAX_REQUEST_BYTES,
            )
            offsets = self.new_consumer()
            try:
                await self.guard(producer.start(), "connecting", self.settings.connect_timeout_ms)
                await self.guard(offsets.start(), "connecting", self.settings.connect_timeout_ms)
            except BaseException:
                await stop_quietly(producer)
                await stop_quietly(offsets)
                raise
            self._producer, self._offsets = producer, offsets

    async def close(self) -> None:
        async with self._lock:
            producer, offsets = self._producer, self._offsets
            self._producer = self._offsets = None
        await stop_quietly(producer)
        await stop_quietly(offsets)

    def new_consumer(self, **overrides: Any) -> AIOKafkaConsumer:
        options: dict[str, Any] = {
            **self.client_options(),
            "group_id": None,
            "enable_auto_commit": False,
            "auto_offset_reset": "none",
            "fetch_max_wait_ms": self.settings.fetch_max_wait_ms,
            "max_partition_fetch_bytes": 8 * MAX_REQUEST_BYTES,
            "fetch_max_bytes": 16 * MAX_REQUEST_BYTES,
            "isolation_level": "read_uncommitted",
        }
        options.update(overrides)
        return AIOKafkaConsumer(**options)

    # --- operations -----------------------------------------------------------------------------

    async def ensure_topics(self, topics: Sequence[NewTopic]) -> None:
        missing = [topic for topic in topics if topic.name not in self._known_topics]
        if not missing:
            return
        admin = AIOKafkaAdminClient(**self.client_options())
        try:
            await self.guard(admin.start(), "connecting the admin client", self.settings.connect_timeout_ms)
            response = await self.guard(admin.create_topics(missing), "creating topics")
        finally:
            with contextlib.suppress(KafkaError, OSError):
                await admin.close()
        for name, code, message in _topic_errors(response):
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise BrokerUnavailableError(self.broker, f"cannot create topic {name}: {message or code}")
            if code == 0:
                logger.info("created topic %s", name)
            self._known_topics.add(name)

    async def list_topics(self) -> list[str]:
        """Every topic name on the cluster (one admin client, closed again)."""
        admin = AIOKafkaAdminClient(**self.client_options())
        try:
            await self.guard(admin.start(), "connecting the admin client", self.settings.connect_timeout_ms)
            topics: list[str] = await self.guard(admin.list_topics(), "listing topics")
        finally:
            with contextlib.suppress(KafkaError, OSError):
                await admin.close()
        return topics

    async def append(self, topic: str, payloads: Sequence[bytes]) -> list[int]:
        """Append in order to partition 0; returns each record's offset."""
        producer = self._require(self._producer)
        try:
            futures = [await producer.send(topic, payload, partition=0) for payload in payloads]
            return [int(metadata.offset) for metadata in await asyncio.gather(*futures)]
        except KafkaError as exc:
            raise BrokerUnavailableError(
                self.broker, f"append to {topic} failed: {type(exc).__name__}"
            ) from exc

    async def send(self, topic: str, key: bytes, value: bytes | None) -> None:
        producer = self._require(self._producer)
        try:
            await producer.send_and_wait(topic, value, key=key, partition=0)
        except KafkaError as exc:
            raise BrokerUnavailableError(
                self.broker, f"write to {topic} failed: {type(exc).__name__}"
            ) from exc

    async def end_offset(self, topic: str) -> int:
        offsets = self._require(self._offsets)
        partition = TopicPartition(topic, 0)
        result = await self.guard(offsets.end_offsets([partition]), "reading the log end offset")
        return int(result[partition])

    async def guard(self, operation: Awaitable[T], what: str, timeout_ms: int | None = None) -> T:
        timeout = (timeout_ms or self.settings.operation_timeout_ms) / 1000
        try:
            async with asyncio.timeout(timeout):
                return await operation
        except TimeoutError:
            raise BrokerUnavailableError(
                self.broker, f"{what} took longer than {timeout * 1000:.0f} ms"
            ) from None
        except KafkaError as exc:
            raise BrokerUnavailableError(self.broker, f"{what} failed: {type(exc).__name__}") from exc
        except OSError as exc:
            raise BrokerUnavailableError(
                self.broker, f"{what} failed: {exc.strerror or type(exc).__name__}"
            ) from exc

    def _require(self, client: T | None) -> T:
        if client is None:
            raise BrokerUnavailableError(self.broker, "not connected")
        return client


def _topic_errors(response: Any) -> list[tuple[str, int, str | None]]:
    return [
        (entry[0], int(entry[1]), entry[2] if len(entry) > 2 else None) for entry in response.topic_errors
    ]


async def stop_quietly(client: AIOKafkaProducer | AIOKafkaConsumer | None) -> None:
    """Stop an aiokafka client, ignoring broker errors on the way out.

    aiokafka's consumer cancels its own fetch tasks on stop and may re-raise their
    ``CancelledError`` (seen when a fetch is backing off after an outage). That one is ignored;
    a cancellation of the caller's own task is not.
    """
    if client is None:
        return
    try:
        await client.stop()
    except (KafkaError, OSError):
        pass
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
