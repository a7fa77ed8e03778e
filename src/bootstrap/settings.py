"""Settings: environment (``BACKBONE_`` prefix, nested with ``__``) over an optional TOML/JSON file.

``load_settings()`` is the one entry point. The file is named by ``--config`` or
``BACKBONE_CONFIG_FILE``; environment variables win over the file. A bad value raises
``SettingsError`` whose message names the field and the rule (``broker.url: must use one of ...``).
Secrets (broker passwords, SASL password, the Slack webhook URL) never appear in ``repr`` or logs.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from application.audit import DEFAULT_RETENTION_MS as DEFAULT_AUDIT_RETENTION_MS
from application.broker import DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_KEY_PREFIX, DEFAULT_OPERATION_TIMEOUT_MS
from application.jobs.payload_codec import (
    DEFAULT_MAX_JSON_DEPTH,
    DEFAULT_MAX_PAYLOAD_BYTES,
    MAX_JSON_DEPTH_SETTING,
)
from application.redaction import redact_url
from bootstrap.broker_table import SUPPORTED_SCHEMES
from domain.queue.naming import QUEUE_NAME_PATTERN, QUEUE_NAME_RULE

CONFIG_FILE_ENV = "BACKBONE_CONFIG_FILE"

PositiveMs = Annotated[int, Field(ge=1, le=24 * 3600 * 1000)]


class SettingsError(ValueError):
    """Settings refused: ``field`` names the setting, ``rule`` says what it must satisfy."""

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokerSettings(_Section):
    """Where the queues live, and the options given to the adapter (``bootstrap.brokers``).

    The shared fields have the adapters' defaults (``application.broker``); ``options`` holds an
    adapter's own knobs (e.g. ``max_connections``), and one it does not know is refused.
    """

    url: str = "memory://"
    connect_timeout_ms: PositiveMs = DEFAULT_CONNECT_TIMEOUT_MS
    operation_timeout_ms: PositiveMs = DEFAULT_OPERATION_TIMEOUT_MS
    key_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,50}$")] = DEFAULT_KEY_PREFIX
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_verify: bool = True
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # Adapter-specific options (e.g. ``max_connections``); an adapter refuses one it does not know.
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = urlsplit(value).scheme.lower()
        if scheme not in SUPPORTED_SCHEMES:
            allowed = ", ".join(f"{s}://" for s in SUPPORTED_SCHEMES)
            raise ValueError(f"must use one of {allowed} (got {redact_url(value)!r})")
        for netloc in urlsplit(value).netloc.rpartition("@")[2].split(","):  # kafka: h1:p1,h2:p2
            try:
                _ = urlsplit(f"//{netloc}").port
            except ValueError:
                port = netloc.rpartition(":")[2]
                raise ValueError(f"port must be a number in 0..65535 (got {port!r})") from None
        return value

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme.lower()

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)

    def __repr_args__(self) -> Any:
        for key, value in super().__repr_args__():
            yield key, (redact_url(value) if key == "url" and isinstance(value, str) else value)


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class LogSettings(_Section):
    level: Annotated[str, Field(pattern=r"^(?i:debug|info|warning|error|critical)$")] = "INFO"
    format: LogFormat = LogFormat.TEXT


class WorkerSettings(_Section):
    lease_ms: Annotated[int, Field(ge=100, le=24 * 3600 * 1000)] = 30_000
    shutdown_grace_ms: Annotated[int, Field(ge=0, le=3600 * 1000)] = 10_000
    prefetch: Annotated[int, Field(ge=0, le=10_000)] = 0
    block_ms: Annotated[int, Field(ge=1, le=60_000)] = 1000
    unknown_job_delay_ms: Annotated[int, Field(ge=0, le=24 * 3600 * 1000)] = 10_000  # ADR 0017
    unknown_job_max_hand_backs: Annotated[int, Field(ge=0, le=1_000_000)] = 360
    # HTTP endpoint of `backbone worker` (docs/operations.md): /metrics, /healthz, /readyz; off when None
    metrics_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    metrics_host: str = "0.0.0.0"  # probes and scrapes come from outside the pod (Kubernetes)
    metrics_stats_interval_ms: Annotated[int, Field(ge=100, le=3600 * 1000)] = 5000
    liveness_timeout_ms: Annotated[int, Field(ge=100, le=600_000)] = 5000
    readiness_timeout_ms: Annotated[int, Field(ge=100, le=60_000)] = 2000
    readiness_max_failure_rate: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    readiness_max_failure_rates: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=dict
    )
    # heartbeats on the broker, listed by `backbone workers` (ADR 0025); a killed worker drops out
    # within 3 intervals; 0 turns them off
    heartbeat_interval_ms: Annotated[int, Field(ge=0, le=60_000)] = 5000
    tracing: bool = False  # OpenTelemetry spans (the otel extra), exporters from the OTEL_* environment


class BackoffSettings(_Section):
    type: Annotated[str, Field(pattern=r"^(fixed|exponential)$")] | None = None
    delay_ms: Annotated[int, Field(ge=0)] | None = None
    max_delay_ms: Annotated[int, Field(ge=0)] | None = None
    jitter: Annotated[float, Field(ge=0.0, le=1.0)] | None = None


class RateLimitSettings(_Section):
    max: Annotated[int, Field(ge=1)]
    duration_ms: PositiveMs


class TenancySettings(_Section):
    """A queue's tenant policy (ADR 0021); it replaces the module's ``QueueSpec.tenancy`` whole."""

    max_active: Annotated[int, Field(ge=1, le=10**9)] | None = None
    max_starts: Annotated[int, Field(ge=1, le=10**9)] | None = None
    window_ms: Annotated[int, Field(ge=1)] | None = None
    weights: dict[str, Annotated[int, Field(ge=1, le=1000)]] = Field(default_factory=dict)


class QueueOverride(_Section):
    """Per-queue topology overrides; every field left out keeps the module's ``QueueSpec`` value."""

    concurrency: Annotated[int, Field(ge=1, le=10_000)] | None = None
    attempts: Annotated[int, Field(ge=1, le=1000)] | None = None
    backoff: BackoffSettings | None = None
    timeout_ms: PositiveMs | None = None
    keep_completed: Annotated[int, Field(ge=0)] | None = None
    keep_failed_ms: Annotated[int, Field(ge=0)] | None = None
    rate_limit: RateLimitSettings | None = None
    keep_logs: Annotated[int, Field(ge=0, le=10_000)] | None = None  # ctx.log lines kept per job
    tenancy: TenancySettings | None = None


class LedgerKind(StrEnum):
    MEMORY = "memory"
    FILE = "file"


class SenderKind(StrEnum):
    CONSOLE = "console"  # JSON lines on stdout
    FILE = "file"  # JSON lines in outbox_dir
    MEMORY = "memory"  # kept in the process (tests, the demo)


class OutboundSettings(_Section):
    """Where notifications go and where the transactions ledger is kept (no accounts needed)."""

    sender: SenderKind = SenderKind.CONSOLE
    outbox_dir: str = "var/outbox"
    ledger: LedgerKind = LedgerKind.MEMORY
    ledger_path: str = "var/ledger.jsonl"


class SlackSettings(_Section):
    webhook_url: SecretStr | None = None
    timeout_ms: PositiveMs = 5000
    alerts_channel: str = "#alerts"


class DemoSettings(_Section):
    payments: Annotated[int, Field(ge=1, le=100_000)] = 300
    seed: int = 7
    # Settlement dates are "N days ahead"; one demo day lasts this many milliseconds.
    ms_per_day: Annotated[int, Field(ge=1, le=60_000)] = 200
    email_transient_failure_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.15
    email_permanent_failure_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.02
    email_exhausting_failure_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.03
    slack_transient_failure_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2
    replay_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05
    retry_delay_ms: Annotated[int, Field(ge=0, le=60_000)] = 25
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 50.0


class AuditSettings(_Section):
    """The audit log of admin actions (ADR 0024, docs/security.md): kept on the broker itself for
    ``retention_ms`` (default 90 days), mirrored as JSON lines to ``file`` when set. ``actor`` is
    who the entries name when the caller gives none (default: the OS user; ``--actor`` on the CLI);
    ``lifecycle`` also records every job's add and outcome.
    """

    enabled: bool = True
    retention_ms: Annotated[int, Field(ge=1000, le=10 * 366 * 24 * 3600 * 1000)] = DEFAULT_AUDIT_RETENTION_MS
    actor: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")] | None = None
    file: str | None = None
    # also every job's add and attempt outcome (``job.*`` entries, written in the background)
    lifecycle: bool = False


DEFAULT_MODULES = (
    "domain.transactions.module:MODULE",
    "domain.notifications.module:MODULE",
    "domain.slack.module:MODULE",
    "domain.messages.module:MODULE",
    "application.payments.module:MODULE",
)
MODULE_ENTRY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_]*)?$"


class EncryptionSettings(_Section):
    """Payload encryption at rest (ADR 0023, docs/security.md): opt-in per queue or per job name.

    ``keys`` (or the lines of ``keys_file``) are ``key-id:base64-secret`` entries, oldest first: the
    last one seals new payloads, every one opens. A process that only reads (a worker, the CLI)
    needs the keys and not the lists. The secrets never appear in a repr, a log or an error.
    """

    keys: SecretStr | None = None
    keys_file: str | None = None
    queues: Annotated[tuple[str, ...], NoDecode] = ()  # every job of these queues is sealed
    job_names: Annotated[tuple[str, ...], NoDecode] = ()  # jobs of these names are sealed on any queue

    @field_validator("queues", "job_names", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


class AppSettings(_Section):
    """Which modules the composition root builds itself from (ADR 0014), and which hooks observe
    its queues and workers (ADR 0016).

    Each entry is an import path: ``package.module:ATTRIBUTE``, or ``package.module`` for its
    ``MODULE``. The environment takes a comma-separated list (``BACKBONE_APP__MODULES=a:M,b``).
    """

    modules: Annotated[tuple[str, ...], NoDecode, Field(min_length=1)] = DEFAULT_MODULES
    # Hooks every queue and worker of this process reports to (ADR 0016): import paths of a
    # ``Hook`` instance, or of a class or function that makes one when called without arguments.
    hooks: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("modules", "hooks", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("modules", "hooks")
    @classmethod
    def _import_paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if not re.match(MODULE_ENTRY_PATTERN, entry):
                raise ValueError(
                    f"entries must look like 'package.module:ATTRIBUTE' or 'package.module' (got {entry!r})"
                )
        if len(set(value)) != len(value):
            raise ValueError("must not name an entry twice")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BACKBONE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    app: AppSettings = Field(default_factory=AppSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    payload_limit_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = DEFAULT_MAX_PAYLOAD_BYTES
    json_depth_limit: Annotated[int, Field(ge=1, le=MAX_JSON_DEPTH_SETTING)] = DEFAULT_MAX_JSON_DEPTH
    queues: dict[str, QueueOverride] = Field(default_factory=dict)
    outbound: OutboundSettings = Field(default_factory=OutboundSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    encryption: EncryptionSettings = Field(default_factory=EncryptionSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    config_file: str | None = None

    @field_validator("queues")
    @classmethod
    def _queue_names(cls, value: dict[str, QueueOverride]) -> dict[str, QueueOverride]:
        for name in value:
            if not QUEUE_NAME_PATTERN.fullmatch(name):
                raise ValueError(f"queue name {name!r} {QUEUE_NAME_RULE}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _ConfigFileSource(settings_cls))


# The file ``load_settings`` was asked to read (a context variable: no global mutable state).
_config_file: ContextVar[Path | None] = ContextVar("backbone_config_file", default=None)


class _ConfigFileSource(PydanticBaseSettingsSource):
    """Values from the TOML or JSON file named by ``load_settings``; lowest priority."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _config_file.get()
        if path is None:
            return {}
        data = read_config_file(path)
        data.setdefault("config_file", str(path))
        return data


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse ``path`` as TOML (``.toml``) or JSON (anything else). Errors name the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError("config_file", f"must be a readable file ({path}: {exc.strerror})") from exc
    try:
        data: object = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        raise SettingsError("config_file", f"must be valid {kind} ({path}: {exc})") from exc
    if not isinstance(data, dict):
        raise SettingsError("config_file", f"must hold a table/object at the top level ({path})")
    return data


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment over ``config_file`` (or ``$BACKBONE_CONFIG_FILE``).

    ``overrides`` (e.g. from CLI flags) win over both. Raises ``SettingsError``.
    """
    named = config_file if config_file is not None else os.environ.get(CONFIG_FILE_ENV)
    path = Path(named) if named else None
    token = _config_file.set(path)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise settings_error(exc) from None
    finally:
        _config_file.reset(token)


def settings_error(exc: ValidationError) -> SettingsError:
    """The first problem of a pydantic ``ValidationError`` as ``field: rule``."""
    first = exc.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "settings"
    message = str(first["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if first["type"] == "extra_forbidden":
        message = "is not a known setting"
    elif first["type"] != "value_error" and "input" in first and not _is_secret(location):
        shown = first["input"]
        if isinstance(shown, str | int | float | bool):
            message = f"{message} (got {shown!r})"
    return SettingsError(location, message)


def _is_secret(location: str) -> bool:
    return any(word in location for word in ("password", "webhook", "url", "secret", "encryption.keys"))


def settings_summary(settings: Settings) -> Mapping[str, Any]:
    """What is safe to print: secrets masked, the broker URL redacted."""
    data = settings.model_dump(mode="json")
    data["broker"]["url"] = settings.broker.redacted_url
    if settings.slack.webhook_url is not None:
        data["slack"]["webhook_url"] = "**********"
    return data
