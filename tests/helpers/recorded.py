"""A model for recording, tracing, replaying and reporting runs: it plans two tasks,
each of which makes one Calculator call (the second also a call that fails), and
answers from the results. `make_model` is a `python:MODULE:FACTORY` factory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent.models.base import Request
from agent.testing import FunctionModel
from helpers.models import ObjectiveScript

CALLS = {
    "add the prices": "The total is [Calculator(120 + 80.5)",
    "split the bill": "Each pays [Calculator(200.5 / 2)",
}
CARRY_ON = {
    "add the prices": " euros. [Calculator(1 / 0)",
    "split the bill": " euros each.",
}


def execute(task: str) -> str:
    return CALLS[task]


def make_model() -> FunctionModel:
    script = ObjectiveScript(plan=list(CALLS), execute=execute, answer="Each of the two pays 100.25 euros.")

    def reply(request: Request) -> str:
        assistant = request.prompt.assistant
        if assistant and not assistant.rstrip().endswith("]"):
            return script(request)
        for task, text in CARRY_ON.items():
            if assistant.startswith(CALLS[task]):
                done = assistant.count("→") + assistant.count("Error")
                return text if done == 1 else " That is all."
        return script(request)

    return FunctionModel(reply, chunk_size=6, name="recorded-objective", capabilities=script.model().capabilities)


ROOT = Path(__file__).resolve().parent.parent.parent
AGENT = str(Path(sys.executable).parent / "agent")
MODEL = "python:helpers.recorded:make_model"
OBJECTIVE = "plan the dinner"


def agent_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of the installed `agent` script: runs under `home`, this model
    importable, no tracing unless `extra` asks for it."""
    values = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INTERLEAF_"))}
    values.update({"INTERLEAF_HOME": str(home), "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])})
    values.update(extra)
    return values


def agent(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENT, *argv], env=env, capture_output=True, text=True, timeout=100,
                          stdin=subprocess.DEVNULL)


def record_run(env: dict[str, str]) -> str:
    """Run the objective with this model and the calculator; the run's id."""
    done = agent(env, "run", OBJECTIVE, "--model", MODEL, "--tools", "Calculator", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Each of the two pays 100.25 euros."
    listed = agent(env, "runs", "--json", "--limit", "1")
    run_id: str = json.loads(listed.stdout.splitlines()[0])["id"]
    return run_id
