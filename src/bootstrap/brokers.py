"""The ``Broker`` for the broker settings: one construction route for every adapter.

``create_broker`` looks the URL's scheme up in ``BROKERS``, imports that adapter, and calls its
``from_url(url, clock=clock, options=broker_options(settings))``. The options are the shared
settings (timeouts, key prefix, TLS, SASL) that differ from their defaults, plus
``broker.options``; an option the chosen adapter does not use is a ``SettingsError`` naming it
and the known ones. URLs reach logs and errors only through ``redact_url``.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from pydantic import SecretStr

from application.broker import COMMON_OPTIONS, Broker, BrokerOption, BrokerOptionError
from application.clock import Clock, system_clock
from application.redaction import redact_url
from bootstrap.broker_table import BROKERS
from bootstrap.settings import BrokerSettings, SettingsError
from domain.queue.errors import BrokerNotSupportedError, InvalidOptionError

logger = logging.getLogger(__name__)


def broker_scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def broker_options(settings: BrokerSettings) -> dict[str, BrokerOption]:
    """What the adapter is given: shared settings changed from their defaults, then ``options``.

    A shared setting left at its default is not passed: every adapter has the same default
    (``application.broker``), and one that does not use the setting must not refuse it then.
    """
    options: dict[str, BrokerOption] = {}
    for name in COMMON_OPTIONS:
        value = getattr(settings, name)
        if value == BrokerSettings.model_fields[name].default:
            continue
        options[name] = value.get_secret_value() if isinstance(value, SecretStr) else value
    for name, value in settings.options.items():
        if name in COMMON_OPTIONS:
            raise SettingsError(f"broker.options.{name}", f"is a setting of its own: use broker.{name}")
        options[name] = value
    return options


def _setting_name(option: str) -> str:
    if option in ("url", "broker_url"):
        return "broker.url"
    return f"broker.{option}" if option in COMMON_OPTIONS else f"broker.options.{option}"


def create_broker(settings: BrokerSettings, clock: Clock = system_clock) -> Broker:
    """The ``Broker`` for ``settings.url``. Raises ``BrokerNotSupportedError`` or ``SettingsError``."""
    entry = BROKERS.get(broker_scheme(settings.url))
    if entry is None:
        known = ", ".join(f"{name}://" for name in BROKERS)
        raise BrokerNotSupportedError(
            f"unknown broker URL scheme in {redact_url(settings.url)} (known: {known})"
        )
    broker_type = entry.load()  # the adapter (and its client) is imported only now
    try:
        broker = broker_type.from_url(settings.url, clock=clock, options=broker_options(settings))
    except BrokerOptionError as exc:
        raise SettingsError(_setting_name(exc.option), exc.rule) from None
    except InvalidOptionError as exc:
        rule = f"{exc.rule} ({exc.detail})" if exc.detail else exc.rule
        raise SettingsError(_setting_name(exc.field), rule) from None
    logger.info("broker selected url=%s adapter=%s", redact_url(settings.url), type(broker).__name__)
    return broker
