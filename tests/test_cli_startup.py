"""The command line starts without loading what it does not use: the tools' and the
model backends' dependencies load on first use, and listing runs reads no markup.
(`benchmarks/startup.py` measures the time.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("sympy", "numpy", "ddgs", "llama_cpp", "openai", "agent.tools", "agent.models.llama")

PROBE = """
import contextlib, io, json, sys
from agent.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def loaded(argv: list[str], home: Path) -> set[str]:
    env = dict(os.environ, INTERLEAF_HOME=str(home))
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=env,
                         check=True, timeout=120).stdout
    report = json.loads(out.strip().splitlines()[-1])
    assert report["code"] == 0
    return set(report["modules"])


@pytest.mark.parametrize("argv", [[], ["runs"]], ids=["help", "runs"])
def test_the_command_line_starts_without_the_heavy_dependencies(argv: list[str], tmp_path: Path) -> None:
    modules = loaded(argv, tmp_path)
    assert "agent.cli" in modules
    assert not [m for m in HEAVY if m in modules]


def test_listing_runs_reads_no_markup(tmp_path: Path) -> None:
    assert not {"agent.markup", "agent.parts", "agent.detector"} & loaded(["runs"], tmp_path)
