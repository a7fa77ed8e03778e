"""``backbone contract``: refusals before any test runs (exit code 2, one line naming the rule)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _contract(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backbone", "contract", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_contract_without_a_broker_url_is_refused_naming_the_option() -> None:
    result = _contract()
    assert result.returncode == 2
    assert "--broker URL is required" in result.stderr


def test_contract_with_an_unknown_scheme_is_refused_naming_the_known_ones() -> None:
    result = _contract("--broker", "nats://127.0.0.1:4222")
    assert result.returncode == 2
    assert "broker.url: must use one of memory://, redis://" in result.stderr
    assert result.stdout == ""  # no test ran


def test_the_pytest_option_runs_the_shipped_contract_from_any_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--backbone-contract-url", "memory://",
         "--pyargs", "backbone.testing.contract.suite", "-k", "priority"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    assert "queue contract on memory://" in result.stdout
    assert "3 of 3 behaviours kept, 0 broken" in result.stdout
