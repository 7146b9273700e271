"""`agent run` end to end on the embedded model, in a subprocess (slow, offline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.model, pytest.mark.timeout(900)]
MODEL = "smollm2-135m"


def agent(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INTERLEAF_HOME": str(tmp_path / "home")}
    env.pop("INTERLEAF_MODEL", None)
    return subprocess.run([sys.executable, "-m", "agent.cli", *argv], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=800)


def test_agent_run_plans_works_and_answers(tmp_path: Path) -> None:
    result = agent(tmp_path, "run", "plan a trip", "--model", MODEL, "--max-tasks", "2",
                   "--tools", "calendar", "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "run_started" and "tasks_planned" in types and "task_finished" in types
    last = events[-1]
    assert last["type"] == "objective_finished" and last["status"] == "finished"
    assert last["answer"].strip() and last["stop_reason"]
    assert 1 <= last["totals"]["tasks_run"] <= 2
    shown = agent(tmp_path, "show", last["run_id"])
    assert shown.returncode == 0 and "plan a trip" in shown.stdout


def test_agent_run_single_pass(tmp_path: Path) -> None:
    result = agent(tmp_path, "run", "What is the capital of France?", "--model", MODEL, "--single",
                   "--tools", "", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
