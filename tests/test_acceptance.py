"""The product as a user meets it: the installed `agent` script, in a subprocess, offline,
on the packaged default model, judged by what a user looks at (the answer, the calls in
the saved run, the exit code)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.evals.arithmetic import load_problems
from agent.evals.scoring import is_correct, predicted_answer

AGENT = str(Path(sys.executable).with_name("agent"))
ROOT = Path(__file__).resolve().parent.parent

SAMPLE = ("arith-028", "arith-073", "arith-015", "arith-070", "arith-004",
          "arith-026", "arith-041", "arith-065", "arith-075", "arith-058")
"""Ten one-step problems of the arithmetic set (a fixed shuffle: add, sub, units, div,
mult, percentages, money)."""

pytestmark = pytest.mark.model


def agent(*args: str, home: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INTERLEAF_HOME": str(home)}
    env.pop("INTERLEAF_MODEL", None)
    return subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)


def last_run(home: Path) -> dict[str, Any]:
    listed = agent("runs", "--json", "--limit", "1", home=home)
    assert listed.returncode == 0, listed.stderr
    run: dict[str, Any] = json.loads(listed.stdout.splitlines()[0])
    return run


def test_a_question_is_answered_with_a_calculator_call(tmp_path: Path) -> None:
    done = agent("run", "--single", "-q", "What is 17% of 2,340?", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "397.8" in done.stdout
    run = last_run(tmp_path)
    assert run["totals"]["tool_calls"] >= 1
    assert "[Calculator(" in run["tasks"][0]["result"] and "→ 397.8]" in run["tasks"][0]["result"]


def test_the_cli_answers_as_well_as_the_eval_reports(tmp_path: Path) -> None:
    problems = {p.id: p for p in load_problems()}
    called = correct = 0
    for item in SAMPLE:
        problem = problems[item]
        done = agent("run", "--single", "-q", problem.question, home=tmp_path)
        assert done.returncode == 0, done.stderr
        run = last_run(tmp_path)
        called += run["totals"]["tool_calls"] > 0
        correct += is_correct(predicted_answer(run["answer"]), problem.answer)
    log = tmp_path / "eval.jsonl"
    evaluated = agent("eval", "arithmetic", "--models", "smollm2-135m", "--configs", "defaults",
                      "--ids", ",".join(SAMPLE), "--log", str(log), home=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    outcomes = [json.loads(line) for line in log.read_text().splitlines()]
    assert {o["item"] for o in outcomes} == set(SAMPLE)
    eval_correct = sum(o["correct"] for o in outcomes)
    assert called >= 9, f"{called} of 10 answers made a call"
    assert correct >= eval_correct - 1, (correct, eval_correct)


@pytest.mark.parametrize(("name", "tool"), [
    ("quickstart.py", "Calculator"), ("custom_tool.py", "Price"), ("async_embedding.py", "OrderStatus"),
])
def test_each_example_makes_the_call_it_is_about(name: str, tool: str) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "examples" / name)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert re.search(rf"\b{tool}\(", done.stdout), done.stdout


def readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_readme_has_python_to_run() -> None:
    assert readme_blocks()


@pytest.mark.parametrize("index", range(len(readme_blocks())))
def test_every_python_block_of_the_readme_runs_as_written(index: int, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", readme_blocks()[index]], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env={**os.environ, "INTERLEAF_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_the_main_job_plans_runs_and_answers_on_the_default_model(tmp_path: Path) -> None:
    """README's first command, `agent run "plan a trip to Lisbon"`, with a task limit so
    that it stays short: tasks are planned and run, an answer is printed, and the run is
    saved and finished."""
    done = agent("run", "--max-tasks", "2", "plan a trip to Lisbon", home=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    run = last_run(tmp_path)
    assert run["status"] == "finished" and run["stop_reason"] in ("done", "empty", "max_tasks"), run
    ran = [t for t in run["tasks"] if t["status"] == "done"]
    assert ran and all(t["result"].strip() for t in ran), run["tasks"]
    assert run["answer"].strip() and run["answer"].strip()[:40] in done.stdout
