"""Runs `agent.training.trainer` in a child process (`python -m agent.training.worker`),
so that a crash in the native library (an abort or a segmentation fault) ends the child,
not the caller. The plan goes to the child's stdin as JSON; the child writes its events
as JSON lines on stdout; llama.cpp's own log goes to `train.log` in the work folder. The
parent turns a failed or dead child into an error; the child ends when its parent does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from agent.errors import InterleafError
from agent.training.plan import FitPlan


class TrainingFailed(InterleafError):
    """The training child failed: an error it reported, or a crash."""

    def __init__(self, message: str, *, exitcode: int | None = None) -> None:
        super().__init__(message)
        self.exitcode = exitcode


class UnsupportedModel(TrainingFailed):
    """llama.cpp cannot train this model's architecture."""


def encode(plan: FitPlan) -> str:
    return json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in asdict(plan).items()})


def decode(text: str) -> FitPlan:
    data = json.loads(text)
    paths = {f.name for f in fields(FitPlan) if f.type in ("Path", Path)}
    data = {k: Path(v) if k in paths else v for k, v in data.items()}
    data["texts"] = tuple(data["texts"])
    return FitPlan(**data)


def run_child(plan: FitPlan) -> Iterator[dict[str, Any]]:
    """The child's events until it finishes; raises `TrainingFailed` if it fails or dies."""
    plan.workdir.mkdir(parents=True, exist_ok=True)
    with open(plan.workdir / "train.log", "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "agent.training.worker"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(encode(plan))
        process.stdin.close()
        done = False
        for line in process.stdout:
            message: dict[str, Any] = json.loads(line)
            kind = message.get("type")
            if kind == "done":
                done = True
            elif kind == "unsupported":
                raise UnsupportedModel(message["message"])
            elif kind == "error":
                raise TrainingFailed(f"training failed: {message['message']} (log: {plan.workdir / 'train.log'})")
            else:
                yield message
        code = process.wait()
        if not done or code != 0:
            raise TrainingFailed(_death(code), exitcode=code)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(10)


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        return (f"the training process was killed by signal {-code} (a crash in llama.cpp, or out of memory); "
                "the last finished epoch's checkpoint is kept and the next run resumes from it")
    return f"the training process ended without a result (exit code {code})"


def exit_with_parent(interval: float = 1.0) -> None:
    """End this process when its parent ends. A parent that is killed runs no clean-up,
    and the training would go on to the end of its epoch, its progress written to a pipe
    nobody reads (the write fails inside llama.cpp's callback, where the error is lost)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def main() -> int:
    """The child: read the plan, train, report."""
    from agent.training import fit, trainer

    exit_with_parent()

    def send(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    try:
        output = trainer.run(decode(sys.stdin.read()), send)
        send({"type": "done", "path": str(output)})
    except fit.UnsupportedArchitecture as exc:
        send({"type": "unsupported", "message": str(exc)})
    except Exception as exc:
        traceback.print_exc()
        send({"type": "error", "message": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
