from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_scripted_example_runs() -> None:
    assert run_example("test_your_agent.py").strip() == "ok"


def test_the_tool_options_example_shows_raw_text_grammar_and_reset() -> None:
    out = run_example("tool_options.py").splitlines()
    assert out[0] == "Say [Let(x = 17) → 17] and [Let(y = 25) → 42] in all."
    assert out[1] == "arguments: [{'assignment': 'x = 17'}, {'assignment': 'y = 25'}]"
    assert out[2] == 'grammar for the arguments: t0-root ::= [a-z] " = " [0-9]{1,6} ")" t0-close'
    assert out[3] == "variables after the run: {}"
