from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_scripted_example_runs() -> None:
    assert run_example("test_your_agent.py").strip() == "ok"


@pytest.mark.model
@pytest.mark.parametrize(("name", "expected"), [
    ("quickstart.py", "calls,"), ("custom_tool.py", ""), ("async_embedding.py", "stopped:"),
])
def test_examples_run_on_the_embedded_model(name: str, expected: str) -> None:
    assert expected in run_example(name)
