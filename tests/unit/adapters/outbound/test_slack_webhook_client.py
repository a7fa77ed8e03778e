"""``SlackWebhookClient`` against a real HTTP server on 127.0.0.1: status mapping and secrecy."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from adapters.outbound.slack_webhook import SlackWebhookClient
from domain.queue.errors import PermanentError, RetryableError
from domain.slack.ports import SlackMessage, SlackRejectedError, SlackUnavailableError

SECRET_PATH = "/services/T000SECRET/B000SECRET/XXXXsecretTOKENxxxx"
MESSAGE = SlackMessage(message_id="job-1", channel="#ops", text="hello ✓", correlation_id="corr-1")


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    stall: bool = False  # hold the answer until the test ends (a server that never answers in time)
    drip: bool = False  # send the status line, then a header line every 0.1 s, never finishing


@dataclass
class FakeSlack:
    url: str
    replies: list[Reply]
    received: list[tuple[str, dict[str, object]]]
    release: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.fake.received.append((self.path, body))
        reply = self.server.fake.replies.pop(0) if self.server.fake.replies else Reply()
        if reply.stall:
            self.server.fake.release.wait(timeout=10)
        if reply.drip:
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            while not self.server.fake.release.wait(timeout=0.1):
                self.wfile.write(b"X-Slow: a\r\n")
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeSlack

    def handle_error(self, request: object, client_address: object) -> None:
        return  # a stalled answer written after the client gave up: expected, not news


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    server = _Server(("127.0.0.1", 0), _Handler)
    host, port = server.server_address[:2]
    server.fake = FakeSlack(f"http://{host}:{port}{SECRET_PATH}", [], [], threading.Event())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.fake
    finally:
        server.fake.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def assert_secret_hidden(error: BaseException) -> None:
    text = "".join(traceback.format_exception(error))  # what the worker stores as the stack trace
    assert "T000SECRET" not in text and "secretTOKEN" not in text


async def test_a_200_answer_delivers_the_text_as_json_to_the_webhook(slack: FakeSlack) -> None:
    await SlackWebhookClient(slack.url, timeout_s=5).post(MESSAGE)

    assert slack.received == [(SECRET_PATH, {"text": "hello ✓"})]


async def test_a_429_is_retryable_after_the_retry_after_seconds(slack: FakeSlack) -> None:
    slack.replies.append(Reply(429, b"rate_limited", {"Retry-After": "7"}))

    with pytest.raises(SlackUnavailableError) as failure:
        await SlackWebhookClient(slack.url, timeout_s=5).post(MESSAGE)

    assert isinstance(failure.value, RetryableError)
    assert failure.value.retry_delay_ms == 7000
    assert_secret_hidden(failure.value)


async def test_a_429_with_an_http_date_waits_until_that_date(slack: FakeSlack) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    slack.replies.append(Reply(429, b"", {"Retry-After": format_datetime(when, usegmt=True)}))

    with pytest.raises(SlackUnavailableError) as failure:
        await SlackWebhookClient(slack.url, timeout_s=5).post(MESSAGE)

    assert failure.value.retry_delay_ms is not None
    assert 25_000 <= failure.value.retry_delay_ms <= 30_000


async def test_an_unbelievable_retry_after_is_capped_at_an_hour(slack: FakeSlack) -> None:
    slack.replies.append(Reply(429, b"", {"Retry-After": "999999999"}))

    with pytest.raises(SlackUnavailableError) as failure:
        await SlackWebhookClient(slack.url, timeout_s=5).post(MESSAGE)

    assert failure.value.retry_delay_ms == 3_600_000


async def test_a_429_without_retry_after_uses_the_default_delay(slack: FakeSlack) -> None:
    slack.replies.append(Reply(429, b""))

    with pytest.raises(SlackUnavailableError) as failure:
        await SlackWebhookClient(slack.url, timeout_s=5, default_retry_after_ms=12_000).post(MESSAGE)

    assert failure.value.retry_delay_ms == 12_000


@pytest.mark.parametrize(
    ("status", "body"), [(400, b"invalid_payload"), (403, b"action_prohibited"), (404, b"no_service")]
)
async def test_other_4xx_answers_are_permanent_and_name_slacks_error_code(
    slack: FakeSlack, status: int, body: bytes
) -> None:
    slack.replies.append(Reply(status, body))

    with pytest.raises(SlackRejectedError) as failure:
        await SlackWebhookClient(slack.url, timeout_s=5).post(MESSAGE)

    assert isinstance(failure.value, PermanentError)
    assert (
        str(failure.value) == f"slack webhook at {slack.url.split('/')[2]} answered {status}: {body.decode()}"
    )
    assert_secret_hidden(failure.value)


async def test_a_4xx_body_that_is_not_an_error_code_is_left_out_of_the_message(slack: FakeSlack) -> None:
    slack.replies.append(Reply(400, f"bad request for {SECRET_PATH}".encode()))

    with pytest.raises(SlackRejectedError) as failure:
        await SlackWebhookClient(slack.url, timeout_s=5).post(MESSAGE)

    assert_secret_hidden(failure.value)


async def test_a_500_answer_is_retryable(slack: FakeSlack) -> None:
    slack.replies.append(Reply(500, b"internal_error"))

    with pytest.raises(SlackUnavailableError) as failure:
        await SlackWebhookClient(slack.url, timeout_s=5).post(MESSAGE)

    assert failure.value.retry_delay_ms is None
    assert "answered 500" in str(failure.value)
    assert_secret_hidden(failure.value)


async def test_a_server_that_does_not_answer_in_time_is_a_retryable_timeout(slack: FakeSlack) -> None:
    slack.replies.append(Reply(stall=True))
    started = time.monotonic()

    with pytest.raises(SlackUnavailableError, match="timed out") as failure:
        await SlackWebhookClient(slack.url, timeout_s=0.3).post(MESSAGE)

    assert time.monotonic() - started < 5  # bounded by the timeout, not by the server
    assert_secret_hidden(failure.value)


async def test_a_server_dripping_its_answer_is_cut_off_by_the_overall_deadline(slack: FakeSlack) -> None:
    slack.replies.append(Reply(drip=True))
    started = time.monotonic()

    try:
        with pytest.raises(SlackUnavailableError, match="timed out"):
            await SlackWebhookClient(slack.url, timeout_s=0.3).post(MESSAGE)
        assert time.monotonic() - started < 5
    finally:
        slack.release.set()  # stop dripping so the client's thread ends before the loop closes


async def test_a_refused_connection_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the post: nothing listens there
    with pytest.raises(SlackUnavailableError, match="ConnectionRefusedError") as failure:
        await SlackWebhookClient(f"http://127.0.0.1:{port}{SECRET_PATH}", timeout_s=2).post(MESSAGE)

    assert_secret_hidden(failure.value)


async def test_the_webhook_path_never_reaches_the_logs_or_the_repr(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = SlackWebhookClient(slack.url, timeout_s=5)
    await client.post(MESSAGE)

    assert "posted via webhook at 127.0.0.1" in caplog.text
    assert "SECRET" not in caplog.text
    assert "SECRET" not in repr(client)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.slack.com/services/T/B/SECRET",
        "not a url SECRET",
        "https:///SECRET",
        "https://hooks.slack.com/services/T/B/SEC RET",
        "https://hooks.slack.com/services/T/B/SECRET\n",
    ],
)
def test_an_unusable_webhook_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ValueError, match="slack webhook url") as failure:
        SlackWebhookClient(url)

    assert "SECRET" not in str(failure.value)
