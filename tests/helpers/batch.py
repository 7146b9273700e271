"""Models for batch tests, made in the workers from `python:helpers.batch:FACTORY` specs.

`make_fragile_model` answers single questions; a question that contains
- "hang once": the first time it is asked anywhere, writes the worker's pid to
  `$INTERLEAF_TEST_FAULTS/worker.pid` and waits to be killed (the next time it answers);
- "always crash": ends the worker's process at once, every time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from agent.testing import FunctionModel
from helpers.models import ObjectiveScript


def make_fragile_model() -> FunctionModel:
    folder = Path(os.environ["INTERLEAF_TEST_FAULTS"])

    def execute(task: str) -> str:
        marker = folder / "hung"
        if "hang once" in task and not marker.exists():
            marker.write_text("")
            (folder / "worker.tmp").write_text(str(os.getpid()))
            (folder / "worker.tmp").rename(folder / "worker.pid")
            time.sleep(120)
        if "always crash" in task:
            os._exit(3)
        return f"Result of {task}."

    return ObjectiveScript(execute=execute).model()


def wait_for_pid(folder: Path, seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    path = folder / "worker.pid"
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("no worker took the item that hangs")
        time.sleep(0.05)
    return int(path.read_text())


def interrupted_after_first(argv: list[str], env: dict[str, str], timeout: float) -> tuple[list[dict[str, Any]], str]:
    """`agent batch ... --json` given a Ctrl-C once its first item has ended: the items
    that ended (the first one done, not all four) and what it wrote to stderr."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    first = json.loads(process.stdout.readline())
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 130, err
    ended = [first, *(json.loads(line) for line in out.splitlines())]
    assert first["status"] == "done" and len(ended) < 4
    return ended, err
