"""The public surface: the README's complete program runs as written on memory:// and Redis, and a
same-named package shadowing one of the four top-level packages stops ``import backbone`` with one
message naming both locations."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from tests.harness.handle import BrokerHandle

import backbone
from domain.transactions.jobs import SettleTransaction
from domain.transactions.service import TransactionQueueService

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
README_MARKER = "<!-- README program: tests/unit/test_public_surface.py runs the next block -->"
BACKBONE = str(Path(sys.executable).with_name("backbone"))
DEADLINE_S = 60.0


def readme_program() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme.split(README_MARKER, 1)[1]
    found = re.match(r"\s*```python\n(.*?)\n```", after, re.DOTALL)
    assert found is not None, "the README program block is missing"
    return found.group(1)


def _run_program(tmp_path: Path, url: str) -> subprocess.CompletedProcess[str]:
    program = tmp_path / "thumbnails.py"
    program.write_text(readme_program() + "\n")
    env = {**os.environ, "BACKBONE_BROKER__KEY_PREFIX": f"readme-{secrets.token_hex(4)}"}
    return subprocess.run(
        [sys.executable, str(program), url],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=DEADLINE_S, check=False,
    )  # fmt: skip


def test_the_readme_program_is_about_twenty_lines_of_code_importing_only_from_backbone() -> None:
    code = [line for line in readme_program().splitlines() if line.strip()]
    assert len(code) <= 30
    imports = [line for line in code if line.startswith(("import ", "from "))]
    assert imports == [
        "import asyncio",
        "import sys",
        "from pydantic import BaseModel",
        "from backbone import Backbone, DomainModule, JobContext, JobSpec, QueueSpec",
    ]


def test_the_readme_program_runs_its_job_on_memory(tmp_path: Path) -> None:
    result = _run_program(tmp_path, "memory://")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "completed {'thumbnail': 'cat.png@64px'}"


def test_the_readme_program_runs_its_job_on_redis(tmp_path: Path, redis_broker: BrokerHandle) -> None:
    result = _run_program(tmp_path, redis_broker.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "completed {'thumbnail': 'cat.png@64px'}"


def test_every_public_name_is_importable_from_backbone() -> None:
    for name in backbone.__all__:
        assert getattr(backbone, name) is not None, name


async def test_a_backbone_opened_in_process_gives_the_queue_its_module_defaults() -> None:
    module = backbone.DomainModule(
        "reports",
        queues=[backbone.QueueSpec("reports-export", 3, backbone.QueueDefaults(attempts=7))],
        jobs=[backbone.JobSpec("reports.export.v1", None, queue="reports-export")],
    )
    async with backbone.Backbone.open("memory://", modules=[module]) as app:
        job = await app.queue("reports-export").add("reports.export.v1", {"month": "2026-11"})
        assert job.options.attempts == 7


async def test_a_backbone_with_the_configured_modules_offers_their_services_and_runs_their_handlers() -> None:
    async with backbone.Backbone.open("memory://") as app:
        service = app.service(TransactionQueueService)
        job = await service.enqueue_settlement(
            SettleTransaction(tx_id="tx-1", amount_minor=1200, currency="EUR"), backbone.JobMetadata()
        )
        async with app.workers("transaction-processing", block_ms=20):
            await app.wait_until_idle("transaction-processing", timeout_s=DEADLINE_S)
        done = await app.queue("transaction-processing").get_job(job.id)
        assert done is not None and done.state is backbone.JobState.COMPLETED
        assert done.return_value == {"tx_id": "tx-1", "status": "settled", "recorded_by": job.id}


async def test_in_process_workers_for_a_queue_no_module_handles_are_refused() -> None:
    module = backbone.DomainModule(
        "reports",
        queues=[backbone.QueueSpec("reports-export")],
        jobs=[backbone.JobSpec("reports.export.v1", None, queue="reports-export")],
    )  # declares the job, handles nothing (a producer-only module)
    async with backbone.Backbone.open("memory://", modules=[module]) as app:
        with pytest.raises(backbone.UnhandledQueueError, match="no enabled module handles 'reports-export'"):
            async with app.workers("reports-export"):
                pass


@pytest.mark.parametrize("package", ["domain", "application", "adapters", "bootstrap"])
def test_a_same_named_package_ahead_on_the_path_stops_the_import_naming_both_locations(
    tmp_path: Path, package: str
) -> None:
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import backbone"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=DEADLINE_S, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"backbone._layout.ShadowedPackageError: messaging-backbone: the package {package!r} imported "
        f"from {tmp_path / package} shadows messaging-backbone's own {package!r} at {SRC / package}. "
        "Rename your package (or move it under a name of your own), or put it after messaging-backbone "
        "on sys.path."
    )


def test_the_backbone_command_stops_with_the_same_message_when_a_package_is_shadowed(tmp_path: Path) -> None:
    (tmp_path / "domain").mkdir()
    (tmp_path / "domain" / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [BACKBONE, "stats"], env=env, capture_output=True, text=True, timeout=DEADLINE_S, check=False
    )
    assert result.returncode == 1
    assert (
        f"the package 'domain' imported from {tmp_path / 'domain'} shadows" in result.stderr.splitlines()[-1]
    )
