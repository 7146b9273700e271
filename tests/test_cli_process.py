"""The installed `agent` script in a subprocess: bad input gives one line on stderr and
the documented exit code, never a traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers.cli import AGENT, MODEL, agent_env

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return agent_env(tmp_path)


def agent(env: dict[str, str], *argv: str | bytes, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENT, *argv], env=env, cwd=cwd, capture_output=True, text=True,
                          errors="backslashreplace", timeout=100)


def one_line_error(result: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert needle in result.stderr, result.stderr


def test_bytes_that_are_not_utf8_are_refused_in_one_line(env: dict[str, str]) -> None:
    one_line_error(agent(env, "run", "--single", b"caf\xe9 \xff", "--model", MODEL), 1,
                   "the objective is not valid UTF-8 (byte 0xe9 at character 4)")
    one_line_error(agent(env, "show", b"\xff"), 1, "no run")


def test_a_run_without_any_result_fails_with_the_reason(env: dict[str, str]) -> None:
    result = agent(env, "run", "plan a trip", "--model", "python:helpers.models:make_silent_model", "--tools", "")
    one_line_error(result, 1, "no task finished with a result")
    assert "agent show" in result.stderr


def test_a_failing_model_exits_1_and_a_finished_run_0(env: dict[str, str]) -> None:
    broken = agent(env, "run", "x", "--model", "python:helpers.models:make_broken_model", "--tools", "")
    one_line_error(broken, 1, "the run failed: ConnectionError: the server is down")
    done = agent(env, "run", "plan a trip", "--model", MODEL, "--tools", "", "--max-tasks", "1", "--quiet")
    assert done.returncode == 0 and done.stdout.strip() == "The final answer.", done.stderr
    listed = [json.loads(line) for line in agent(env, "runs", "--json").stdout.splitlines()]
    assert sorted(r["status"] for r in listed) == ["failed", "finished"]


def test_configuration_mistakes_fail_at_start(env: dict[str, str], tmp_path: Path) -> None:
    one_line_error(agent(env, "run", "x", "--model", "missing.gguf"), 1, "no model file missing.gguf: it does not exist")
    (tmp_path / "corrupt.gguf").write_bytes(b"\x00not a model" * 100)
    one_line_error(agent(env, "run", "x", "--model", str(tmp_path / "corrupt.gguf")), 1,
                   "corrupt.gguf is not a GGUF model file")
    one_line_error(agent({**env, "INTERLEAF_SEARCH": "bogus"}, "run", "x", "--model", MODEL), 1,
                   "$INTERLEAF_SEARCH must be one of web, local, auto; got 'bogus'")
    assert not (tmp_path / "home" / "runs.sqlite3").exists()


def test_a_bare_agent_prints_help_and_version_exists(env: dict[str, str]) -> None:
    bare = agent(env)
    assert bare.returncode == 0 and "usage: agent" in bare.stdout and "resume" in bare.stdout
    version = agent(env, "--version")
    assert version.returncode == 0 and version.stdout.startswith("agent ")
