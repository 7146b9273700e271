"""Acceptance, as a user runs it: a planned `agent run` through the installed `agent`
script, in a subprocess, against llama-cpp-python's server with the packaged
smollm2-135m on 127.0.0.1, ends as done or at its task limit, in the inline dialect and
in the native one. Limits are small so each run takes seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

server = pytest.mark.server

AGENT = str(Path(sys.executable).with_name("agent"))
OBJECTIVE = "plan a trip to Lisbon"


def agent_run(spec: str, home: Path, *options: str) -> list[dict[str, Any]]:
    """The JSON events of `agent run --json` on OBJECTIVE; the run must exit 0."""
    command = [AGENT, "run", "--json", "--home", str(home), "--model", spec, "--max-tasks", "1",
               "--max-tokens", "500", *options, OBJECTIVE]
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "INTERLEAF_MODEL")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    events = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    end = events[-1]
    assert end["type"] == "objective_finished" and end["status"] == "finished", end
    assert end["stop_reason"] in ("done", "max_tasks"), end
    assert any(e["type"] == "tasks_planned" for e in events) and end["answer"].strip()
    return events


def task_calls(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["event"]["record"] for e in events
            if e["type"] == "task_output" and e["event"]["type"] == "call_finished"]


@server
def test_a_planned_run_in_the_inline_dialect_finishes(base_url: str, tmp_path: Path) -> None:
    """The server refuses the planner's json_schema form; the planner goes on in json_object."""
    agent_run(f"openai:smollm2@{base_url}", tmp_path, "--tools", "Calculator", "--max-calls", "1")


@server
def test_a_planned_run_in_the_native_dialect_finishes_with_native_calls(tools_url: str, tmp_path: Path) -> None:
    events = agent_run(f"openai+native:smollm2@{tools_url}", tmp_path, "--tools", "Calendar", "--max-calls", "1")
    records = task_calls(events)
    assert records and records[0]["name"] == "Calendar" and records[0]["result"].startswith("Today is")
    assert records[0]["text"] == f"[Calendar() → {records[0]['result']}]"
