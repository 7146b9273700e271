"""`agent run --mcp "COMMAND ARGS"` and `mcp.json`, through the installed `agent` script:
the scripted model calls a tool of a real MCP server inline, the user sees the result,
and no server process is left once the command ends."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from helpers.processes import host_processes_with

pytestmark = pytest.mark.timeout(180)

AGENT = str(Path(sys.executable).with_name("agent"))
SERVER = Path(__file__).parent / "helpers" / "mcp_server.py"
MODEL_FILE = '''
from agent.testing import ScriptedModel


def make():
    return ScriptedModel(['Adding: [add(20, 22)]', ' The answer is 42.'])
'''


def agent(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "mcpmodel.py").write_text(MODEL_FILE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "INTERLEAF_MODEL")}
    env["INTERLEAF_HOME"] = str(tmp_path / "home")
    return subprocess.run([AGENT, "run", "--single", "--json", "--model", "python:mcpmodel:make", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=150)


def finished_calls(stdout: str) -> list[dict[str, object]]:
    """The call records of the run's `--json` events."""
    events = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    inner = [e["event"] for e in events if e.get("type") == "task_output"]
    return [e["record"] for e in inner if e.get("type") == "call_finished"]


def test_a_tool_of_an_mcp_server_given_with_mcp_is_called(tmp_path: Path) -> None:
    marker = f"mcp-cli-{uuid.uuid4().hex}"
    command = shlex.join([sys.executable, str(SERVER), marker])
    done = agent(tmp_path, "--mcp", command, "--tools", "add", "What is 20 + 22?")
    assert done.returncode == 0, done.stderr
    calls = finished_calls(done.stdout)
    assert [(c["name"], c["result"]) for c in calls] == [("add", "42")], done.stdout
    assert "The answer is 42." in done.stdout
    assert not host_processes_with(marker)  # the command stopped its server


def test_servers_listed_in_mcp_json_are_used(tmp_path: Path) -> None:
    marker = f"mcp-cli-{uuid.uuid4().hex}"
    home = tmp_path / "home"
    home.mkdir()
    config = {"mcpServers": {"test": {"command": sys.executable, "args": [str(SERVER), marker]}}}
    (home / "mcp.json").write_text(json.dumps(config), encoding="utf-8")
    done = agent(tmp_path, "--tools", "add", "What is 20 + 22?")
    assert done.returncode == 0, done.stderr
    assert [(c["name"], c["result"]) for c in finished_calls(done.stdout)] == [("add", "42")]
    assert not host_processes_with(marker)


def test_a_server_that_cannot_start_stops_the_command_before_the_run(tmp_path: Path) -> None:
    done = agent(tmp_path, "--mcp", f"{sys.executable} -c 'import sys; sys.exit(\"no such root\")'", "Hello?")
    assert done.returncode == 1
    assert done.stderr.startswith("agent: the MCP server") and "no such root" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""  # no run was started
