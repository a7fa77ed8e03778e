"""Guard: our top-level packages are ours, not same-named PyPI packages (ADR 0002, ADR 0015)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import adapters
import application
import backbone
import bootstrap
import domain

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize("package", [backbone, domain, application, adapters, bootstrap])
def test_top_level_package_is_imported_from_our_src(package: object) -> None:
    location = Path(getattr(package, "__file__", "") or "").resolve()
    assert location.is_relative_to(SRC), f"{package!r} shadowed: imported from {location}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel ``pip`` builds from this tree (what a user installs)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out),
         str(SRC.parent)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("messaging_backbone-*.whl")
    return zipfile.ZipFile(built)


def _metadata(wheel: zipfile.ZipFile) -> list[str]:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return wheel.read(name).decode().splitlines()


@pytest.mark.parametrize("package", ["backbone", "domain", "application", "adapters", "bootstrap"])
def test_the_wheel_ships_py_typed_for_every_top_level_package(wheel: zipfile.ZipFile, package: str) -> None:
    assert f"{package}/py.typed" in wheel.namelist()


def test_the_core_requires_no_broker_client_and_each_client_comes_with_its_extra(wheel: zipfile.ZipFile) -> None:
    requires = [line.removeprefix("Requires-Dist: ") for line in _metadata(wheel) if line.startswith("Requires-Dist:")]
    core = {r.split(">")[0].split("<")[0].strip() for r in requires if "extra ==" not in r}
    assert core == {"cronsim", "dependency-injector", "pydantic", "pydantic-settings"}
    clients = (("redis", "redis"), ("hiredis", "redis"), ("pika", "rabbitmq"), ("aiokafka", "kafka"))
    for client, extra in (*clients, ("prometheus-client", "prometheus")):
        assert any(r.startswith(client) and f'extra == "{extra}"' in r for r in requires), (client, extra)
    extras = {line.removeprefix("Provides-Extra: ") for line in _metadata(wheel) if line.startswith("Provides-Extra:")}
    assert {"redis", "rabbitmq", "kafka", "all"} <= extras


def test_backbone_version_prints_the_installed_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "backbone", "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == f"backbone {metadata.version('messaging-backbone')}"
