"""``Broker``: one connection configuration to one broker, opening queue handles on it.

Every adapter is built the same way: ``SomeBroker.from_url(url, clock=..., options={...})``. The
options are one flat mapping of names to values; the names every adapter shares
(``COMMON_OPTIONS``: timeouts, key prefix, TLS, SASL) mean the same thing everywhere, and each
adapter adds its own tuning knobs. An option the adapter does not use is refused with a
``BrokerOptionError`` naming it and the known ones: nothing is silently dropped. The defaults
every adapter shares are defined here once.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from application.clock import Clock, system_clock
from application.jobs.job_factory import JobFactory
from application.queue_backend import QueueBackend
from domain.queue.errors import QueueError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

SettingsT = TypeVar("SettingsT", bound="DataclassInstance")

BrokerOption = str | int | float | bool

DEFAULT_KEY_PREFIX = "backbone"  # Redis keys, RabbitMQ streams and Kafka topics start with it
DEFAULT_CONNECT_TIMEOUT_MS = 5_000
DEFAULT_OPERATION_TIMEOUT_MS = 10_000

# Options with the same name and meaning on every adapter that uses them.
COMMON_OPTIONS = (
    "connect_timeout_ms",
    "operation_timeout_ms",
    "key_prefix",
    "tls_ca_file",
    "tls_cert_file",
    "tls_key_file",
    "tls_verify",
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
)


class BrokerOptionError(QueueError, ValueError):
    """A broker option refused: ``option`` names it, ``rule`` says why (and what is known)."""

    def __init__(self, option: str, rule: str) -> None:
        self.option = option
        self.rule = rule
        super().__init__(f"{option}: {rule}")


def check_options(scheme: str, options: Mapping[str, object], known: Collection[str]) -> None:
    """Refuse the first option (in name order) that ``scheme``'s adapter does not know."""
    for name in sorted(options):
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise BrokerOptionError(name, f"is not an option of {scheme}:// brokers (known: {listed})")


def settings_from_options(
    settings_cls: type[SettingsT],
    scheme: str,
    options: Mapping[str, object] | None,
    *,
    internal: Collection[str] = (),
    **fixed: Any,
) -> SettingsT:
    """An adapter's settings dataclass from ``options``: every field is an option except ``fixed``
    ones (given here, e.g. ``url``) and ``internal`` ones (nested settings, not flat options)."""
    given = dict(options or {})
    known = [
        f.name for f in dataclasses.fields(settings_cls) if f.name not in fixed and f.name not in internal
    ]
    check_options(scheme, given, known)
    values: dict[str, Any] = {**fixed, **given}
    return settings_cls(**values)


class Broker(ABC):
    schemes: ClassVar[tuple[str, ...]]
    """The URL schemes this adapter serves (``redis``, ``rediss``): the broker table is built from them."""

    clock: Clock
    """Where every queue opened through this broker reads the time (epoch ms)."""

    @classmethod
    @abstractmethod
    def from_url(
        cls, url: str, *, clock: Clock = system_clock, options: Mapping[str, BrokerOption] | None = None
    ) -> Self:
        """The broker for ``url``, reading time from ``clock``, tuned by ``options``.

        Raises ``BrokerOptionError`` for an option this adapter does not know. Does not connect.
        """

    @property
    @abstractmethod
    def url(self) -> str:
        """The broker URL with any password replaced by ``***`` (safe to log)."""

    @abstractmethod
    async def open_queue(self, factory: JobFactory) -> QueueBackend:
        """Connect (within the configured timeout) and return a handle for queue ``factory.queue``.

        ``factory`` carries the queue's job types, defaults and payload limit; the handle validates
        every ``add`` through it. Raises ``BrokerUnavailableError`` if the broker cannot be reached.
        """

    @abstractmethod
    async def list_queues(self) -> list[str]:
        """The names of the queues that exist on the broker under this key prefix, sorted: every
        queue ever opened there (by any process), configured here or not. Connects if needed;
        raises ``BrokerUnavailableError`` if the broker cannot be reached."""

    @abstractmethod
    async def close(self) -> None:
        """Close every handle and connection opened through this broker. Idempotent."""
