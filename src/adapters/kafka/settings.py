"""Kafka adapter settings: the ``kafka://`` URL plus TLS, SASL and tuning knobs.

``kafka://host:port[,host:port]`` selects the adapter; ``kafka://user:password@host:port`` adds
SASL credentials (the password is never logged: ``redacted_url`` is what errors carry).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from application.redaction import redact_url
from application.replication.settings import ReplicationSettings
from domain.queue.errors import InvalidOptionError

SCHEMES = ("kafka",)
DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    url: str
    prefix: str = "backbone"
    connect_timeout_ms: int = 5_000
    operation_timeout_ms: int = 10_000
    # TLS / SASL (security_protocol: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)
    security_protocol: str = "PLAINTEXT"
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_verify: bool = True  # False skips certificate and hostname checks (never in production)
    sasl_mechanism: str = "PLAIN"  # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; credentials: the URL user:password
    # producer: acks=all always; the idempotent producer needs InitProducerId (Tansu lacks it)
    enable_idempotence: bool = False
    linger_ms: int = 0
    # tailing consumers: a caught-up fetch returns after at most this long
    fetch_max_wait_ms: int = 10
    # the log's tailing consumer: a fetch returns once this much is there (or at fetch_max_wait_ms).
    # Large: a busy log is fetched about once per fetch_max_wait_ms instead of once per append (a
    # process applies its own records from the append's offsets; when one lands behind other
    # processes' records, those are read at once by a second consumer with fetch_min_bytes=1).
    # 1: other processes' records as soon as the broker answers, for one more fetch per append
    # (on Tansu each fetch costs time that grows with what it stores, which slows every append).
    fetch_min_bytes: int = 1024 * 1024
    # topics created when missing
    replication_factor: int = 1
    min_insync_replicas: int | None = None
    log_retention_ms: int = 7 * DAY_MS
    # leader election: heartbeats on the 1-partition leader topic; silent this long = gone
    leader_session_timeout_ms: int = 5_000
    leader_heartbeat_interval_ms: int = 1_000
    snapshot_chunk_bytes: int = 512 * 1024
    replication: ReplicationSettings = field(default_factory=ReplicationSettings)

    def __post_init__(self) -> None:
        parse_bootstrap(self.url)

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)

    @property
    def bootstrap_servers(self) -> list[str]:
        return parse_bootstrap(self.url)[0]

    @property
    def sasl_credentials(self) -> tuple[str, str] | None:
        return parse_bootstrap(self.url)[1]


def parse_bootstrap(url: str) -> tuple[list[str], tuple[str, str] | None]:
    """``kafka://[user:pass@]h1:p1,h2:p2`` -> (["h1:p1", "h2:p2"], (user, pass) or None)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidOptionError("broker_url", "must be kafka://host:port[,host:port]") from None
    if parts.scheme not in SCHEMES:
        raise InvalidOptionError("broker_url", "must start with kafka://", detail=f"got {parts.scheme!r}")
    netloc = parts.netloc
    credentials = None
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        credentials = (unquote(user), unquote(password))
    servers = [server.strip() for server in netloc.split(",") if server.strip()]
    if not servers or any(":" not in server for server in servers):
        raise InvalidOptionError(
            "broker_url", "must list host:port bootstrap servers", detail=redact_url(url)
        )
    return servers, credentials
