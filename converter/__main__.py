"""``python -m converter``: the one-shot command line (see converter.cli)."""

from __future__ import annotations

import sys

from converter.cli import main

sys.exit(main())
