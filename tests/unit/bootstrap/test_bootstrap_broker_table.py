"""The broker table imports an adapter only when its scheme is chosen, and names the extra to
install when the adapter's client is missing (each case runs in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CLIENTS = ("redis", "pika", "aiokafka")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_building_a_memory_broker_imports_no_broker_client() -> None:
    result = _run(
        "import sys\n"
        "from bootstrap.brokers import create_broker\n"
        "from bootstrap.settings import BrokerSettings\n"
        "create_broker(BrokerSettings(url='memory://'))\n"
        f"print(sorted(set({CLIENTS!r}) & set(sys.modules)))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("url", "client", "extra"),
    [
        ("redis://127.0.0.1:6379/0", "redis", "redis"),
        ("amqp://guest:guest@127.0.0.1:5672/%2F", "pika", "rabbitmq"),
        ("kafka://127.0.0.1:9092", "aiokafka", "kafka"),
    ],
)
def test_a_url_whose_client_is_not_installed_fails_naming_the_extra(url: str, client: str, extra: str) -> None:
    result = _run(
        "import sys\n"
        f"sys.modules[{client!r}] = None  # what an install without the client looks like to import\n"
        "from bootstrap.brokers import create_broker\n"
        "from bootstrap.settings import BrokerSettings\n"
        "from domain.queue.errors import BrokerNotSupportedError\n"
        "try:\n"
        f"    create_broker(BrokerSettings(url={url!r}))\n"
        "except BrokerNotSupportedError as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"{url.split(':')[0]}:// needs the {client!r} client, which is not installed: "
        f"pip install 'messaging-backbone[{extra}]'"
    )
