"""``RabbitMQSettings``: connection, topology and tuning knobs of the RabbitMQ adapter."""

from __future__ import annotations

from dataclasses import dataclass, field

from application.broker import DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_KEY_PREFIX, DEFAULT_OPERATION_TIMEOUT_MS
from application.replication.settings import ReplicationSettings

SCHEMES = ("amqp", "amqps")


@dataclass(frozen=True, slots=True)
class RabbitMQSettings:
    """All durations are int milliseconds, like the rest of the project.

    Retention: the log stream keeps records for ``log_max_age`` (RabbitMQ duration syntax, e.g. ``7D``)
    and at most ``log_max_length_bytes``; both must exceed the snapshot interval by far, because a
    new process replays the log from the newest snapshot on. The snapshot stream keeps
    ``snapshot_max_length_bytes`` (RabbitMQ never deletes a stream's active segment, so the newest
    snapshot survives).

    Every field but ``replication`` is a broker option (``RabbitMQBroker.from_url(url, options=...)``);
    the shared ones (timeouts, ``key_prefix``, ``tls_*``) have the names and defaults of
    ``application.broker``.
    """

    connect_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS  # TCP + AMQP handshake; BrokerUnavailableError after
    operation_timeout_ms: int = DEFAULT_OPERATION_TIMEOUT_MS  # one append / barrier / snapshot read
    heartbeat_s: int = 10
    # streams are <key_prefix>.<queue>.log / .snapshots, election queue <key_prefix>.<queue>.leader
    key_prefix: str = DEFAULT_KEY_PREFIX
    tls_ca_file: str | None = None  # amqps:// with a private CA; None uses the system trust store
    tls_cert_file: str | None = None  # client certificate (mutual TLS)
    tls_key_file: str | None = None
    tls_verify: bool = True  # False skips certificate and hostname checks (never in production)
    log_max_age: str = "7D"
    log_max_length_bytes: int = 20 * 1024**3
    log_max_segment_bytes: int = 100 * 1024**2
    snapshot_max_length_bytes: int = 1024**3
    snapshot_max_segment_bytes: int = 64 * 1024**2
    snapshot_chunk_bytes: int = 1024**2  # a snapshot bigger than this is split into several messages
    tail_prefetch: int = 2_000  # stream deliveries in flight per tail (the ack is the credit)
    leader_ping_ms: int = 250  # every process pings the election queue this often
    leader_lease_pings: int = 4  # the active consumer is leader until this many ping intervals pass unheard
    replication: ReplicationSettings = field(default_factory=ReplicationSettings)

    @property
    def connect_timeout_s(self) -> float:
        return self.connect_timeout_ms / 1000

    @property
    def operation_timeout_s(self) -> float:
        return self.operation_timeout_ms / 1000
