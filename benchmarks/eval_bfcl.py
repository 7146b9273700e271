"""BFCL 'simple' function calling: `python benchmarks/eval_bfcl.py [options]` (see --help).
Needs the data: pip install --no-deps bfcl-eval."""

from __future__ import annotations

import sys

from agent.cli.evals import main

if __name__ == "__main__":
    sys.exit(main(["bfcl", "--tools", "on", *sys.argv[1:]]))
