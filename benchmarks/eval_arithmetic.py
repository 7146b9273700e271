"""Arithmetic word problems: `python benchmarks/eval_arithmetic.py [options]` (see --help)."""

from __future__ import annotations

import sys

from agent.cli.evals import main

if __name__ == "__main__":
    sys.exit(main(["arithmetic", *sys.argv[1:]]))
