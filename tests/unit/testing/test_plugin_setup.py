"""The plugin in a project of its own: modules from the ini option, and the message without any."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

MODULE = """
from backbone import DomainModule, JobSpec, QueueSpec

async def echo(data, ctx):
    return data

ECHO = DomainModule(
    "echo",
    queues=[QueueSpec("echo-q")],
    jobs=[JobSpec("demo.echo.v1", None, queue="echo-q")],
    handlers=lambda ctx: {"demo.echo.v1": echo},
)
"""

TEST = """
async def test_echo(backbone_kit):
    job = await backbone_kit.queue("echo-q").add("demo.echo.v1", {"n": 1})
    await backbone_kit.run_until_idle()
    assert (await backbone_kit.job("echo-q", job.id)).return_value == {"n": 1}
"""


def _project(root: Path, ini: str) -> Path:
    (root / "echo_module.py").write_text(textwrap.dedent(MODULE))
    (root / "test_echo.py").write_text(textwrap.dedent(TEST))
    (root / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n" + ini
    )
    return root


def _pytest(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_echo.py"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )


def test_the_ini_option_names_the_modules_the_kit_runs(tmp_path: Path) -> None:
    result = _pytest(_project(tmp_path, "backbone_modules = echo_module:ECHO\n"))
    assert result.returncode == 0, result.stdout
    assert "1 passed" in result.stdout


def test_without_modules_the_kit_says_both_ways_to_choose_them(tmp_path: Path) -> None:
    result = _pytest(_project(tmp_path, ""))
    assert result.returncode == 1
    assert "backbone_kit needs modules: set `backbone_modules = package.module:MODULE`" in result.stdout
    assert "override the `backbone_modules` fixture" in result.stdout
