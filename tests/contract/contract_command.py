"""Running ``backbone contract --broker URL`` as a user does: the real command in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CONTRACT_RUN_TIMEOUT_S = 900  # every wait inside has its own timeout; this bounds a wedged run


def run_backbone_contract(
    url: str, *pytest_args: str, command: list[str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``backbone contract --broker url -- pytest_args`` (``command`` replaces ``python -m backbone``)."""
    argv = [*(command or [sys.executable, "-m", "backbone"]), "contract", "--broker", url]
    if pytest_args:
        argv += ["--", *pytest_args]
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=CONTRACT_RUN_TIMEOUT_S,
        cwd=cwd,
        env=env,
        check=False,
    )


def report_of(result: subprocess.CompletedProcess[str]) -> str:
    """What a failing assertion shows: the end of the run's report and its errors."""
    return f"exit code {result.returncode}\n{result.stdout[-8000:]}\n{result.stderr[-3000:]}"
