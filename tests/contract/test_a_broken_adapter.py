"""The shipped contract catches a broken adapter and says which behaviour it breaks, in words.

``forgetful_broker.py`` is the memory broker forgetting every job's priority; the contract runs
on it in a pytest process of its own (a selection of behaviours, to keep the suite fast: the
priority behaviour and its neighbours, which that adapter still keeps).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BROKEN = Path(__file__).with_name("forgetful_broker.py")
SELECTION = "priority or add_bulk or round_trips"


def test_the_contract_fails_on_an_adapter_that_ignores_priorities_and_names_that_behaviour() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(BROKEN), "-q", "-p", "no:cacheprovider", "-k", SELECTION],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        check=False,
    )
    report = result.stdout
    assert result.returncode == 1, report  # pytest's "tests failed"
    summary = report[report.index("queue contract") :]
    assert "1 broken" in summary
    assert "BROKEN  consumer: lower priority number runs first and fifo within a priority:" in summary
    assert summary.count("BROKEN") == 1  # the behaviours it still keeps are not named
