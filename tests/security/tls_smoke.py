"""The TLS and authentication smoke set, run on each broker by ``test_tls_<broker>.py``.

A module binds ``TlsAuthSmoke`` to its broker with a module-scoped ``site`` fixture (one TLS broker
per module). Every queue is opened the way the application opens it: ``BrokerSettings`` (URL and
TLS options) -> ``create_broker``. The smoke set: a job added, claimed and completed by a worker; a
failing job retried then dead-lettered; the stats of both. The refusals (certificate from another CA,
expired certificate, wrong password, no ``tls_ca_file``) must each be one line naming the problem,
and no secret (password, private key) may appear in an error, a log record, or the CLI's output.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from application.broker import Broker
from application.jobs.job_factory import JobFactory
from application.queue_backend import QueueBackend
from backbone.testing.contract.helpers import (
    ECHO,
    FAIL,
    contract_job_types,
    fast_defaults,
    recording_handler,
    running_worker,
    unique_queue_name,
    wait_for_state,
)
from bootstrap.brokers import create_broker
from bootstrap.settings import BrokerSettings
from domain.queue.errors import BrokerUnavailableError
from domain.queue.job import JobState, QueueStats
from domain.queue.options import JobOptions

CLI_TIMEOUT_S = 60
TLS_SHUTDOWN_S = 0.2
CLI_QUEUE = "notification-email"  # a queue of the default modules: ``backbone stats`` knows it
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class TlsSite:
    """How to reach one TLS broker, right and wrong. Every entry is a complete ``BrokerSettings``."""

    good: BrokerSettings
    other_ca: BrokerSettings  # trusts another CA than the one that signed the server's certificate
    expired: BrokerSettings  # a TLS endpoint that shows a certificate that expired yesterday
    wrong_password: BrokerSettings
    no_ca_file: BrokerSettings  # no tls_ca_file: the system trust store, which does not know our CA
    secrets: tuple[str, ...]  # passwords and private-key lines: never in any output
    password_refusal: str  # words the wrong-password error must contain
    extra_env: dict[str, str] = field(default_factory=dict)


def broker_env(settings: BrokerSettings) -> dict[str, str]:
    """``BACKBONE_BROKER__*`` variables that reproduce ``settings`` for the CLI."""
    env = {"BACKBONE_BROKER__URL": settings.url}
    for name in ("tls_ca_file", "tls_cert_file", "tls_key_file", "sasl_mechanism"):
        value = getattr(settings, name)
        if value is not None:
            env[f"BACKBONE_BROKER__{name.upper()}"] = str(value)
    if not settings.tls_verify:
        env["BACKBONE_BROKER__TLS_VERIFY"] = "false"
    if settings.options:
        env["BACKBONE_BROKER__OPTIONS"] = json.dumps(settings.options)
    return env


def run_cli(settings: BrokerSettings, *argv: str) -> subprocess.CompletedProcess[str]:
    """``backbone <argv>`` in a fresh process, configured only through the environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("BACKBONE_")}
    env.update(broker_env(settings))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    return subprocess.run(
        [sys.executable, "-m", "bootstrap", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


@asynccontextmanager
async def opened_queue(settings: BrokerSettings, **defaults: Any) -> AsyncIterator[QueueBackend]:
    """A fresh queue opened through the application's route: settings -> ``create_broker``."""
    broker: Broker = create_broker(settings)
    try:
        yield await broker.open_queue(
            JobFactory(unique_queue_name("tls"), contract_job_types(), fast_defaults(**defaults))
        )
    finally:
        await broker.close()


async def refusal(settings: BrokerSettings) -> BrokerUnavailableError:
    """The error of opening a queue with ``settings`` (which must fail)."""
    with pytest.raises(BrokerUnavailableError) as raised:
        async with opened_queue(settings):
            pass
    # A driver that gives up on a TLS connection closes it with a TLS shutdown that ends a moment
    # later on the event loop (redis-py after a refused AUTH): let it end before the test's loop does.
    await asyncio.sleep(TLS_SHUTDOWN_S)
    return raised.value


def assert_one_clear_line(error: BaseException, *words: str) -> None:
    text = str(error)
    assert "\n" not in text, text
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"


def leaked(secrets: Iterable[str], *texts: str) -> list[str]:
    return [secret for secret in secrets if any(secret in text for text in texts)]


def log_text(records: Iterable[logging.LogRecord]) -> str:
    formatter = logging.Formatter()
    lines = []
    for record in records:
        lines.append(record.getMessage())
        if record.exc_info:
            lines.append(formatter.formatException(record.exc_info))
    return "\n".join(lines)


def _own_info_line(line: str) -> bool:
    """``<date> <time> INFO <logger> ...`` from one of the application's own loggers."""
    fields = line.split()
    return len(fields) > 3 and fields[2] == "INFO" and fields[3].startswith(OWN_LOGGERS)


OWN_LOGGERS = ("bootstrap.", "adapters.", "application.", "domain.")


class TlsAuthSmoke:
    """Bind with a module-scoped ``site`` fixture returning a ``TlsSite``."""

    @pytest.fixture(autouse=True)
    def _collect_garbage(self) -> Iterator[None]:
        """A connection a test left unclosed is reported by that test, not by the next one."""
        yield
        gc.collect()

    async def test_a_job_sent_over_tls_is_completed_by_a_worker_and_counted(self, site: TlsSite) -> None:
        seen: list[tuple[str, Any]] = []
        async with opened_queue(site.good) as queue:
            job = await queue.add(ECHO, {"over": "tls"})
            async with running_worker(queue, {ECHO: recording_handler(seen, result="done")}):
                done = await wait_for_state(queue, job.id, JobState.COMPLETED)
            stats = await queue.get_stats()
        assert done.return_value == "done"
        assert [payload for _, payload in seen] == [{"over": "tls"}]
        assert stats == QueueStats(completed=1)

    async def test_a_failing_job_over_tls_is_retried_then_dead_lettered(self, site: TlsSite) -> None:
        attempts: list[int] = []

        async def broken(payload: Any, ctx: Any) -> None:
            attempts.append(ctx.attempt)
            raise RuntimeError("still broken")

        async with opened_queue(site.good) as queue:
            job = await queue.add(FAIL, {}, JobOptions(attempts=2))
            async with running_worker(queue, {FAIL: broken}):
                failed = await wait_for_state(queue, job.id, JobState.FAILED)
            letters = await queue.list_dead_letters()
            stats = await queue.get_stats()
        assert attempts == [1, 2]
        assert failed.failed_reason == "RuntimeError: still broken"
        assert [letter.job_id for letter in letters] == [job.id]
        assert stats == QueueStats(failed=1)

    async def test_a_certificate_from_another_ca_is_refused_in_one_line(self, site: TlsSite) -> None:
        error = await refusal(site.other_ca)
        assert_one_clear_line(error, "TLS", "not trusted")

    async def test_an_expired_certificate_is_refused_in_one_line(self, site: TlsSite) -> None:
        error = await refusal(site.expired)
        assert_one_clear_line(error, "TLS", "certificate has expired")

    async def test_a_wrong_password_is_refused_in_one_line_without_the_password(self, site: TlsSite) -> None:
        error = await refusal(site.wrong_password)
        assert_one_clear_line(error, site.password_refusal)
        assert leaked(site.secrets, str(error), repr(error)) == []

    async def test_a_ca_file_that_cannot_be_read_is_refused_in_one_line(self, site: TlsSite) -> None:
        missing = site.good.model_copy(update={"tls_ca_file": "/nonexistent/backbone-ca.crt"})
        error = await refusal(missing)
        assert_one_clear_line(error, "No such file or directory")

    async def test_certificates_are_verified_by_default(self, site: TlsSite) -> None:
        assert site.no_ca_file.tls_verify is True and site.no_ca_file.tls_ca_file is None
        error = await refusal(site.no_ca_file)
        assert_one_clear_line(error, "TLS", "not trusted")

    async def test_no_secret_reaches_a_log_record_or_an_error(
        self, site: TlsSite, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        errors = [await refusal(s) for s in (site.other_ca, site.expired, site.wrong_password)]
        async with opened_queue(site.good) as queue:
            job = await queue.add(ECHO, {"n": 1})
            async with running_worker(queue, {ECHO: recording_handler([])}):
                await wait_for_state(queue, job.id, JobState.COMPLETED)
        texts = [log_text(caplog.records), *(f"{e!s} {e!r} {e.__cause__!r}" for e in errors)]
        assert caplog.records  # the scan read something
        assert leaked(site.secrets, *texts) == []

    def test_the_cli_shows_stats_over_tls_without_any_secret(self, site: TlsSite) -> None:
        result = run_cli(site.good, "stats", CLI_QUEUE, "--json")
        assert result.returncode == 0, result.stderr
        assert [(row["queue"], row["waiting"]) for row in json.loads(result.stdout)] == [(CLI_QUEUE, 0)]
        assert leaked(site.secrets, result.stdout, result.stderr) == []

    def test_the_cli_reports_an_untrusted_certificate_in_one_line_and_exits_3(self, site: TlsSite) -> None:
        result = run_cli(site.other_ca, "stats", CLI_QUEUE)
        errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
        assert result.returncode == 3
        assert len(errors) == 1 and errors[0].startswith("backbone: error: broker "), result.stderr
        assert "not trusted" in errors[0]
        assert "Traceback" not in result.stderr
        # Besides the error, only the application's own INFO lines (no pika/aiokafka records).
        others = [line for line in result.stderr.splitlines() if line and line not in errors]
        assert all(_own_info_line(line) for line in others), result.stderr
        assert leaked(site.secrets, result.stdout, result.stderr) == []
