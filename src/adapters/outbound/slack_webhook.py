"""``SlackWebhookClient``: posts to a Slack incoming webhook with the standard library only.

The webhook URL is a secret (its path is the credential): it never appears in logs, errors or
``repr``; only the host does. Driver exceptions are not chained (``from None``) so the URL held by
``urllib``'s exceptions cannot leak through a stored traceback either.

Status mapping: 2xx ok; 429 -> ``SlackUnavailableError`` with ``retry_delay_ms`` from
``Retry-After``; other 4xx -> ``SlackRejectedError`` (permanent); 5xx, connection errors and
timeouts -> ``SlackUnavailableError``. An incoming webhook posts to the channel it was created
for, so ``message.channel`` is only logged, not sent.
"""

from __future__ import annotations

import asyncio
import email.utils
import http.client
import io
import json
import logging
import re
import time
import urllib.error
import urllib.request
from datetime import UTC
from urllib.parse import urlsplit

from domain.slack.ports import SlackClient, SlackMessage, SlackRejectedError, SlackUnavailableError

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_RETRY_AFTER_MS = 30_000
MAX_RETRY_AFTER_MS = 60 * 60 * 1000  # a Retry-After beyond an hour is not believed
_SLACK_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")  # Slack answers errors with codes like invalid_payload


class SlackWebhookClient(SlackClient):
    def __init__(
        self,
        webhook_url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        default_retry_after_ms: int = DEFAULT_RETRY_AFTER_MS,
    ) -> None:
        try:
            parts = urlsplit(webhook_url)
            host, port = parts.hostname, parts.port
        except ValueError:
            raise ValueError("slack webhook url is not a valid URL") from None
        if parts.scheme not in ("https", "http") or not host:
            raise ValueError("slack webhook url must be an http(s) URL with a host")
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in webhook_url):
            raise ValueError("slack webhook url must not contain whitespace or control characters")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        self._url = webhook_url
        self._host = f"{host}:{port}" if port is not None else host
        self._timeout_s = timeout_s
        self._default_retry_after_ms = default_retry_after_ms

    @property
    def host(self) -> str:
        return self._host

    def __repr__(self) -> str:
        return f"SlackWebhookClient(host={self._host!r}, timeout_s={self._timeout_s})"

    async def post(self, message: SlackMessage) -> None:
        body = json.dumps({"text": message.text}, ensure_ascii=False).encode("utf-8")
        # ``timeout_s`` bounds each socket operation; this bounds the whole exchange (a server
        # dripping bytes). The thread finishes on its own within its socket timeouts.
        try:
            async with asyncio.timeout(self._timeout_s * 3):
                await asyncio.to_thread(self._post, body)
        except TimeoutError:
            raise SlackUnavailableError(f"slack webhook at {self._host}: timed out") from None
        logger.info(
            "slack message %s posted via webhook at %s (channel %s, correlation_id=%s)",
            message.message_id,
            self._host,
            message.channel,
            message.correlation_id,
        )

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(
            self._url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        try:
            # The status is the answer; the body ("ok") is not read, so a slow body cannot hold us.
            with urllib.request.urlopen(request, timeout=self._timeout_s):
                pass
        except urllib.error.HTTPError as exc:
            try:
                error = self._http_error(exc)
            finally:
                exc.close()
            raise error from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            text = "timed out" if isinstance(reason, TimeoutError) else _describe(reason)
            raise SlackUnavailableError(f"slack webhook at {self._host}: {text}") from None
        except TimeoutError:
            raise SlackUnavailableError(f"slack webhook at {self._host}: timed out") from None
        except (OSError, http.client.HTTPException) as exc:
            raise SlackUnavailableError(f"slack webhook at {self._host}: {_describe(exc)}") from None
        except ValueError as exc:  # http.client.InvalidURL quotes the URL: never pass its text on
            raise SlackRejectedError(f"slack webhook at {self._host}: {type(exc).__name__}") from None

    def _http_error(self, exc: urllib.error.HTTPError) -> SlackRejectedError | SlackUnavailableError:
        status = exc.code
        where = f"slack webhook at {self._host} answered {status}"
        if status == 429:
            delay = self._retry_after_ms(exc.headers.get("Retry-After") if exc.headers else None)
            return SlackUnavailableError(f"{where} (rate limited, retry in {delay} ms)", retry_delay_ms=delay)
        code = _error_code(exc)
        detail = f"{where}: {code}" if code else where
        if 400 <= status < 500:
            return SlackRejectedError(detail)
        return SlackUnavailableError(detail)

    def _retry_after_ms(self, value: str | None) -> int:
        """``Retry-After`` is seconds or an HTTP date; anything else gives the default."""
        if value is None:
            return self._default_retry_after_ms
        value = value.strip()
        if value.isdigit():
            return min(int(value) * 1000, MAX_RETRY_AFTER_MS)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return self._default_retry_after_ms
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return min(max(0, int(when.timestamp() * 1000) - time.time_ns() // 1_000_000), MAX_RETRY_AFTER_MS)


def _error_code(exc: urllib.error.HTTPError) -> str | None:
    """Slack's short error code from the body (``invalid_payload``), never arbitrary body text."""
    try:
        body = exc.fp  # the HTTPResponse: read1 takes what is there, a slow body cannot hold us
        raw = body.read1(200) if isinstance(body, io.BufferedIOBase) else b""
        text = raw.decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException):
        return None
    return text if _SLACK_ERROR_CODE.match(text) else None


def _describe(error: object) -> str:
    """A driver error without any URL: its type and, for OS errors, the errno text."""
    if isinstance(error, OSError) and error.strerror:
        return f"{type(error).__name__}: {error.strerror}"
    return type(error).__name__
