"""``python -m bootstrap``: the same as the ``backbone`` console script."""

from __future__ import annotations

import sys

from bootstrap.cli import main

if __name__ == "__main__":
    sys.exit(main())
