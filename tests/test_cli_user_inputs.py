"""The installed `agent` script in a subprocess, on what a careful user tries: run ids and
file names that are not UTF-8, paths that cannot hold runs or an index, files of types
that are not indexed, limits raised on resume, a server that does not answer, listings
piped to another program, and model files that exist but cannot be loaded."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
from helpers.cli import AGENT, MODEL, agent_env

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return agent_env(tmp_path, drop=("INTERLEAF_TEST_DELAY", "INTERLEAF_TEST_CALL"))


def agent(env: dict[str, str], *argv: str | bytes, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENT, *argv], env=env, cwd=cwd, capture_output=True, text=True,
                          errors="backslashreplace", timeout=150)


def one_line(result: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") == 0, result.stderr
    assert needle in result.stderr, result.stderr


def test_a_run_id_that_is_not_utf8_is_an_unknown_run(env: dict[str, str]) -> None:
    one_line(agent(env, "resume", b"\xff"), 1, "no run '\\udcff': a run id is hexadecimal; `agent runs` lists them")
    one_line(agent(env, "show", b"\xff"), 1, "no run '\\udcff'")


def test_paths_that_cannot_hold_runs_or_an_index(env: dict[str, str], tmp_path: Path) -> None:
    a_file = tmp_path / "visa.md"
    a_file.write_text("# Visa\n")
    one_line(agent(env, "runs", "--home", str(a_file)), 1, f"cannot keep runs in {a_file}: it is a file, not a folder")
    one_line(agent(env, "runs", "--home", "/proc/nope"), 1, "cannot make the folder /proc/nope for runs")
    one_line(agent(env, "index", "--index", str(a_file), "search", "x"), 1, f"{a_file} is not a search index")
    one_line(agent(env, "index", "--index", str(tmp_path), "add", str(a_file)), 1,
             f"the index {tmp_path} is a folder; name a file")


def test_index_add_counts_every_file_and_keeps_the_good_ones(env: dict[str, str], tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "visa.md").write_text("Visa rules for Japan: ninety days without a visa.\n")
    (docs / "data.json").write_text("{}")
    (docs / "blob.bin").write_bytes(b"\0\1")
    with open(os.path.join(os.fsencode(docs), b"caf\xe9.md"), "w") as f:
        f.write("A cafe note.\n")
    added = agent(env, "index", "add", str(docs))
    assert added.returncode == 0 and "Traceback" not in added.stderr, added.stderr
    assert "1 added" in added.stdout and "1 skipped" in added.stdout, added.stdout
    assert "2 not indexed, of types .bin, .json" in added.stdout
    assert added.stderr == f"agent index add: skipped {docs}/caf\\xe9.md: its name is not valid UTF-8\n"
    found = agent(env, "index", "search", "visa", "japan")
    assert found.returncode == 0 and "visa.md" in found.stdout, found.stderr
    helped = agent(env, "index", "add", "--help")
    assert helped.returncode == 0 and "Indexed types: " in helped.stdout and ".md" in helped.stdout


def test_resume_goes_on_with_a_raised_limit(env: dict[str, str]) -> None:
    first = agent(env, "run", "plan a trip", "--model", MODEL, "--tools", "", "--max-tasks", "1", "--quiet")
    assert first.returncode == 0, first.stderr
    run_id = json.loads(agent(env, "runs", "--json").stdout.splitlines()[0])["id"]
    one_line(agent(env, "resume", run_id), 1, "already finished (max_tasks); raise its --max-tasks to go on")
    one_line(agent(env, "resume", run_id, "--max-calls", "50"), 1, "would stop at once: 1 tasks ran")
    again = agent(env, "resume", run_id, "--max-tasks", "3", "--quiet")
    assert again.returncode == 0 and again.stdout.strip() == "The final answer.", again.stderr
    data = json.loads(agent(env, "show", run_id, "--json").stdout)
    assert data["totals"]["tasks_run"] == 3 and data["options"]["limits"]["max_tasks"] == 3


def test_a_server_that_does_not_answer_is_named_with_its_url(env: dict[str, str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1/"
    result = agent(env, "run", "--single", "What is 2+2?", "--model", f"openai:local@{url}", "--tools", "")
    one_line(result, 1, f"no answer from {url} (Connection error.)")


def test_listings_piped_keep_whole_lines_and_say_where_models_are(env: dict[str, str], tmp_path: Path) -> None:
    objective = "plan a long trip through the mountains of Japan with three friends in spring"
    assert agent(env, "run", objective, "--model", MODEL, "--tools", "", "--max-tasks", "1").returncode == 0
    assert agent(env, "run", "x", "--model", "python:helpers.models:make_broken_model", "--tools", "").returncode == 1
    rows = [line.split("\t") for line in agent(env, "runs").stdout.splitlines()]
    assert rows[0] == ["Run", "Status", "Stop", "Tasks", "Started", "Model", "Objective"]
    assert rows[1][1:3] == ["failed", "error"] and rows[2][1:3] == ["finished", "max_tasks"]
    assert rows[2][-1] == objective
    models = agent(env, "models").stdout.splitlines()
    line = next(x for x in models if x.strip().startswith("smollm2-135m: "))
    assert Path(line.split(": ", 1)[1]).is_file()
    home = tmp_path / ("a-rather-long-folder-name-" * 4) / "home"
    empty = agent(env, "runs", "--home", str(home))
    assert empty.returncode == 0 and empty.stderr == f"No runs yet in {home / 'runs.sqlite3'}\n"


def test_eval_help_is_the_harness_help(env: dict[str, str]) -> None:
    helped = agent(env, "eval", "--help")
    assert helped.returncode == 0 and "--models" in helped.stdout, helped.stderr


def test_a_model_file_that_cannot_be_loaded_stops_before_a_run_is_made(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "broken.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 64)
    one_line(agent(env, "run", "x", "--model", "broken.gguf", cwd=tmp_path), 1,
             f"cannot load the model file {tmp_path / 'broken.gguf'}: ")
    assert not (tmp_path / "home" / "runs.sqlite3").exists()


@pytest.mark.model
def test_a_relative_model_path_is_kept_whole_and_the_window_is_named(env: dict[str, str], tmp_path: Path) -> None:
    packaged = next(x for x in agent(env, "models").stdout.splitlines() if x.strip().startswith("smollm2-135m: "))
    work = tmp_path / "work"
    work.mkdir()
    os.symlink(packaged.split(": ", 1)[1], work / "small.gguf")
    done = agent(env, "run", "--single", "Say hi.", "--model", "small.gguf", "--tools", "", "--max-tokens", "4",
                 cwd=work)
    assert done.returncode == 0, done.stderr
    stored = json.loads(agent(env, "runs", "--json").stdout.splitlines()[0])["model"]
    assert Path(stored).is_absolute() and Path(stored).is_file()
    long = "plan " * 400
    over = agent(env, "run", long, "--model", "smollm2-135m", "--n-ctx", "256", "--tools", "")
    one_line(over, 1, "its context window is 256 tokens")
    assert "`--n-ctx " in over.stderr


def test_installed_tools_by_name_through_the_api() -> None:
    from agent import Agent
    from agent.errors import ConfigError
    from agent.testing import ScriptedModel

    result = Agent(model=ScriptedModel(["Sum: [Calculator(2 + 3)", " so 5."]), tools=["Calculator"]).run("q")
    assert result.text.startswith("Sum: [Calculator(2 + 3) → 5]"), result.text
    with pytest.raises(ConfigError, match="no installed tool is named 'Calculater'; installed tools: Calculator"):
        Agent(model=ScriptedModel(["x"]), tools=["Calculater"])
