"""``python -m backbone``: the ``backbone`` command."""

import sys

from backbone.cli import main

sys.exit(main())
