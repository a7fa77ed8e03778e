"""One error hierarchy for the whole framework.

Adapters translate driver errors into these (``raise BrokerUnavailableError(...) from exc``).
Every error that refuses input names the field and the rule it broke.
"""

from __future__ import annotations


class QueueError(Exception):
    """Root of every error the framework raises on purpose."""


class InvalidJobError(QueueError, ValueError):
    """Input refused at ``add``: nothing was stored.

    ``field`` names the offending field (``name``, ``data``, ``options.priority``, ...) and
    ``rule`` says what it must satisfy.
    """

    def __init__(self, field: str, rule: str, *, detail: str = "") -> None:
        self.field = field
        self.rule = rule
        self.detail = detail
        message = f"{field}: {rule}"
        if detail:
            message = f"{message} ({detail})"
        super().__init__(message)


class InvalidJobNameError(InvalidJobError):
    """The job name is malformed (not ``domain.action.v1``)."""


class UnknownJobNameError(InvalidJobError):
    """The job name is well formed but no job type is registered under it."""


class InvalidPayloadError(InvalidJobError):
    """The data fails its registered model or is not JSON-encodable."""


class PayloadTooLargeError(InvalidJobError):
    """The encoded payload is over the configured limit."""


class InvalidOptionError(InvalidJobError):
    """A job option is out of range (priority, delay, attempts, backoff, ...)."""


class InvalidMetadataError(InvalidJobError):
    """A metadata field has the wrong type or a value that cannot be stored (``metadata.tenant_id``, ...)."""


class BrokerUnavailableError(QueueError, ConnectionError):
    """The broker could not be reached within the configured timeout.

    The message names the broker by its redacted URL: it never contains a password.
    """

    def __init__(self, broker: str, reason: str) -> None:
        self.broker = broker
        self.reason = reason
        super().__init__(f"broker {broker} unavailable: {reason}")


class BrokerNotSupportedError(QueueError):
    """The broker URL names a scheme this build does not provide."""


class QueueNotFoundError(QueueError, KeyError):
    """No queue of that name is configured."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "queue not found"


# --- raised by handlers to steer the retry decision -------------------------------------------


class JobFailure(QueueError):  # noqa: N818 - a category, raised through its subclasses
    """Base of the failure categories a handler may raise."""


class PermanentError(JobFailure):
    """The job can never succeed: skip the remaining attempts and dead-letter it at once."""


class RetryableError(JobFailure):
    """A transient failure; ``retry_delay_ms`` overrides the backoff for the next attempt."""

    def __init__(self, message: str = "", *, retry_delay_ms: int | None = None) -> None:
        if retry_delay_ms is not None and retry_delay_ms < 0:
            raise InvalidOptionError("retry_delay_ms", "must be >= 0")
        self.retry_delay_ms = retry_delay_ms
        super().__init__(message)


class JobTimeoutError(RetryableError):
    """The handler ran longer than the job's timeout and was cancelled."""


class LeaseLostError(QueueError):
    """The worker no longer holds the job (its lease expired and another worker took it)."""
