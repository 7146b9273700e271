"""`agent batch FILE` through the installed script, on local worker processes: the runs
it stores, the exit code, and Ctrl-C then `--resume` running only what was missing."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.batch import interrupted_after_first

TESTS = Path(__file__).parent
AGENT = str(Path(sys.executable).parent / "agent")
MODEL = "python:helpers.models:make_model"
pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {**os.environ, "INTERLEAF_HOME": str(tmp_path / "home"), "INTERLEAF_TEST_LOG": str(tmp_path / "log"),
              "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    values.pop("INTERLEAF_MODEL", None)
    return values


def agent(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENT, *argv], env=env, capture_output=True, text=True, timeout=150)


def test_a_batch_stores_ordinary_runs_and_fails_when_an_item_does(tmp_path: Path, env: dict[str, str]) -> None:
    batch = tmp_path / "b.jsonl"
    batch.write_text('{"objective": "What is 2 + 2?"}\n{"objective": "plan a trip", "single": false, "max_tasks": 2}\n'
                     '{"objective": "x", "model": "python:helpers.models:make_broken_model"}\n')
    result = agent(env, "batch", str(batch), "--model", MODEL, "--tools", "", "--single", "--workers", "2")
    assert result.returncode == 1, result.stderr
    assert "Running 3 items on a local process pool" in result.stderr
    assert "3 items: 2 done, 1 failed" in result.stderr
    assert "line 3 failed" in result.stderr and "ConnectionError: the server is down" in result.stderr
    runs = [json.loads(line) for line in agent(env, "runs", "--json").stdout.splitlines()]
    assert sorted((r["objective"], r["status"]) for r in runs) == [
        ("What is 2 + 2?", "finished"), ("plan a trip", "finished"), ("x", "failed")]
    trip = next(r for r in runs if r["objective"] == "plan a trip")
    assert [t["text"] for t in trip["tasks"]] == ["book the flights", "find a hotel"]
    shown = agent(env, "show", trip["id"])
    assert shown.returncode == 0 and "The final answer." in shown.stdout


def test_ctrl_c_keeps_what_ended_and_resume_runs_only_what_is_missing(tmp_path: Path, env: dict[str, str]) -> None:
    batch = tmp_path / "b.jsonl"
    batch.write_text("".join(f'{{"objective": "question {n}"}}\n' for n in range(1, 5)))
    env["INTERLEAF_TEST_DELAY"] = "1.5"
    argv = [AGENT, "batch", str(batch), "--model", MODEL, "--tools", "", "--single", "--workers", "1", "--json"]
    ended, err = interrupted_after_first(argv, env, timeout=60)
    assert f"Continue with: {shlex.join(['agent', *argv[1:], '--resume'])}" in err
    asked = Path(env["INTERLEAF_TEST_LOG"]).read_text().splitlines()
    env["INTERLEAF_TEST_DELAY"] = "0"
    resumed = agent(env, "batch", str(batch), "--model", MODEL, "--tools", "", "--single", "--workers", "1",
                    "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming: {len(ended)} of 4 items had ended; {4 - len(ended)} to run" in resumed.stderr
    rest = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert sorted(r["line"] for r in [*ended, *rest]) == [1, 2, 3, 4]
    again = Path(env["INTERLEAF_TEST_LOG"]).read_text().splitlines()[len(asked):]
    assert sorted(again) == sorted(r["objective"] for r in rest)
    assert {e["objective"] for e in ended}.isdisjoint(again)
    assert "4 items: 4 done, 0 failed, 0 not run" in resumed.stderr


def test_resume_needs_an_earlier_batch_and_bad_lines_are_named(tmp_path: Path, env: dict[str, str]) -> None:
    batch = tmp_path / "b.jsonl"
    batch.write_text('{"objective": "fine"}\n{"goal": "x"}\n')
    bad = agent(env, "batch", str(batch), "--model", MODEL)
    assert bad.returncode == 1 and f"{batch}, line 2: unknown settings goal" in bad.stderr
    assert "Traceback" not in bad.stderr
    batch.write_text('{"objective": "fine"}\n')
    missing = agent(env, "batch", str(batch), "--model", MODEL, "--resume")
    assert missing.returncode == 1 and "no batch of" in missing.stderr


def test_eval_on_workers_exits_as_a_local_eval_does_when_a_model_cannot_load(env: dict[str, str]) -> None:
    argv = ("eval", "arithmetic", "--models", "no-such-model", "--configs", "defaults", "--limit", "3")
    local = agent(env, *argv)
    pooled = agent(env, *argv, "--workers", "2")
    assert local.returncode == pooled.returncode == 2, pooled.stderr
    [message] = [line for line in local.stderr.splitlines() if line.startswith("agent eval:")]
    assert "unknown model 'no-such-model'" in message
    assert message in pooled.stderr.splitlines()
    assert "Running 3 items on a local process pool" in pooled.stderr
    assert "Traceback" not in pooled.stderr and "|" not in pooled.stdout


NO_RAY = """
import sys
from agent.cli import main
code = main(["batch", {file!r}, "--model", {model!r}, "--tools", "", "--single", "--workers", "1"])
print(sorted(m for m in sys.modules if m == "ray" or m.startswith("ray.")))
sys.exit(code)
"""


def test_a_batch_on_local_processes_imports_nothing_of_ray(tmp_path: Path, env: dict[str, str]) -> None:
    batch = tmp_path / "b.jsonl"
    batch.write_text('{"objective": "What is 2 + 2?"}\n')
    code = NO_RAY.format(file=str(batch), model=MODEL)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
