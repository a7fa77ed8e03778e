"""Guard: our top-level packages are ours, not same-named PyPI packages (ADR 0002, ADR 0015)."""

from __future__ import annotations

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
