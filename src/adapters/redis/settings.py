"""Connection and tuning settings of the Redis adapter."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from application.broker import DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_KEY_PREFIX, DEFAULT_OPERATION_TIMEOUT_MS
from domain.queue.errors import InvalidOptionError

SCHEMES = ("redis", "rediss")


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """``url`` is ``redis://[user:password@]host:port/db`` or ``rediss://`` for TLS.

    Timeouts bound every call: connecting, and each command (blocking waits add their own wait).
    Every field but ``url`` is a broker option (``RedisBroker.from_url(url, options=...)``); the
    shared ones (timeouts, ``key_prefix``, ``tls_*``) have the names and defaults of
    ``application.broker``.
    """

    url: str
    connect_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS
    operation_timeout_ms: int = DEFAULT_OPERATION_TIMEOUT_MS
    key_prefix: str = DEFAULT_KEY_PREFIX
    max_connections: int = 64
    tls_ca_file: str | None = None  # rediss:// with a private CA
    tls_cert_file: str | None = None  # client certificate (mutual TLS)
    tls_key_file: str | None = None
    tls_verify: bool = True  # False skips the hostname check (never in production)
    add_chunk: int = 500  # jobs per add script call in add_bulk (calls are pipelined)
    pipelines_in_flight: int = 2  # script pipelines of one queue travelling at once (see AutoPipeline)
    check_eviction_policy: bool = True
    cluster: bool | None = (
        None  # None: ask the server (INFO cluster); True: a cluster node; False: one server
    )

    def __post_init__(self) -> None:
        scheme = urlsplit(self.url).scheme
        if scheme not in SCHEMES:
            raise InvalidOptionError("url", "must start with redis:// or rediss://", detail=f"got {scheme!r}")
        for name in (
            "connect_timeout_ms",
            "operation_timeout_ms",
            "max_connections",
            "add_chunk",
            "pipelines_in_flight",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidOptionError(name, "must be a positive integer", detail=f"got {value!r}")
        if self.cluster is not None and not isinstance(self.cluster, bool):
            raise InvalidOptionError(
                "cluster", "must be true, false or unset", detail=f"got {self.cluster!r}"
            )
        if not self.key_prefix or any(ch in self.key_prefix for ch in "{}: \t\r\n"):
            raise InvalidOptionError("key_prefix", "must be non-empty without braces, colons or whitespace")

    @property
    def uses_tls(self) -> bool:
        return urlsplit(self.url).scheme == "rediss"
