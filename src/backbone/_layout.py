"""The four top-level packages this distribution installs must be its own (ADR 0002, ADR 0015).

An application with its own ``domain/`` (or ``application/``, ``adapters/``, ``bootstrap/``)
package earlier on ``sys.path`` would otherwise win wholesale and fail later with a
``ModuleNotFoundError`` deep inside the library. ``check_layout`` runs when ``backbone`` is
imported (the public surface and the ``backbone`` command) and names both locations.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACKAGES = ("domain", "application", "adapters", "bootstrap")
ROOT = Path(__file__).resolve().parent.parent


class ShadowedPackageError(ImportError):
    """A same-named package hides one of messaging-backbone's top-level packages."""


def _location(name: str) -> Path | None:
    module = sys.modules.get(name)
    spec = module.__spec__ if module is not None else importlib.util.find_spec(name)
    if spec is None:
        return None
    if spec.origin and spec.origin not in ("namespace", "built-in", "frozen"):
        return Path(spec.origin).resolve().parent
    locations = list(spec.submodule_search_locations or [])
    return Path(locations[0]).resolve() if locations else None


def check_layout(root: Path = ROOT) -> None:
    """Raise ``ShadowedPackageError`` naming both locations when a package is not ours."""
    for name in PACKAGES:
        ours = root / name
        found = _location(name)
        if found == ours:
            continue
        if found is None:
            raise ShadowedPackageError(
                f"messaging-backbone: the top-level package {name!r} cannot be found "
                f"(messaging-backbone's own is expected at {ours})"
            )
        raise ShadowedPackageError(
            f"messaging-backbone: the package {name!r} imported from {found} shadows messaging-backbone's "
            f"own {name!r} at {ours}. Rename your package (or move it under a name of your own), or "
            f"put it after messaging-backbone on sys.path."
        )
