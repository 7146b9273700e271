"""`python -m agent.cli`: the `agent` command."""

from __future__ import annotations

import sys

from agent.cli import main

sys.exit(main())
