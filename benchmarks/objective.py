"""Wall time of `agent run "plan a trip"` on the embedded default model, split into
model time, tool time and framework time.

    python benchmarks/objective.py [--model SPEC] [--objective TEXT] [--no-cli]

First an in-process run through `ObjectiveRunner` (the split comes from the run's
totals: seconds inside the model's streams, seconds inside tools, the rest is the
framework: prompts, detection, SQLite writes), then the same objective through the
`agent` command in a subprocess (start-up and model load included). Target: ≤ 60 s on
2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.cli.setup import installed
from agent.models import DEFAULT_MODEL, MODEL_ENV, resolve_model
from agent.tasks import ObjectiveFinished, ObjectiveRunner, RunOptions, RunStore

TARGET_SECONDS = 60.0


def in_process(spec: str, objective: str, home: Path) -> dict[str, float | str | int]:
    started = time.perf_counter()
    model = resolve_model(spec)
    loaded = time.perf_counter()
    store = RunStore(home / "bench.sqlite3")
    runner = ObjectiveRunner(model=model, store=store, tools=installed())
    end: ObjectiveFinished | None = None
    for event in runner.run(objective, options=RunOptions()):
        if isinstance(event, ObjectiveFinished):
            end = event
    wall = time.perf_counter() - started
    assert end is not None
    t = end.totals
    framework = wall - (loaded - started) - t.model_seconds - t.tool_seconds
    return {
        "wall_s": round(wall, 2), "load_s": round(loaded - started, 2), "model_s": round(t.model_seconds, 2),
        "tool_s": round(t.tool_seconds, 2), "framework_s": round(framework, 2), "tasks": t.tasks_run,
        "requests": t.requests, "completion_tokens": t.completion_tokens, "prompt_tokens": t.prompt_tokens,
        "tool_calls": t.tool_calls, "stop": end.stop_reason.value,
        "tokens_per_s": round(t.completion_tokens / t.model_seconds, 1) if t.model_seconds else 0.0,
    }


def through_cli(spec: str, objective: str, home: Path) -> dict[str, float | str]:
    env = {**os.environ, "INTERLEAF_HOME": str(home / "cli")}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "agent.cli", "run", objective, "--model", spec, "--json"],
                            env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - started
    last = json.loads(result.stdout.splitlines()[-1]) if result.stdout.strip() else {}
    return {"wall_s": round(wall, 2), "exit": result.returncode, "stop": str(last.get("stop_reason", "?")),
            "run_s": round(float(last.get("totals", {}).get("seconds", 0.0)), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.environ.get(MODEL_ENV) or DEFAULT_MODEL)
    parser.add_argument("--objective", default="plan a trip")
    parser.add_argument("--no-cli", action="store_true", help="skip the subprocess run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        inner = in_process(args.model, args.objective, home)
        print(f"model {args.model}, objective {args.objective!r}, {os.cpu_count()} cores")
        print("in-process: " + ", ".join(f"{k}={v}" for k, v in inner.items()))
        wall = float(inner["wall_s"])
        if not args.no_cli:
            cli = through_cli(args.model, args.objective, home)
            print("agent run (subprocess): " + ", ".join(f"{k}={v}" for k, v in cli.items()))
            wall = float(cli["wall_s"])
    verdict = "within" if wall <= TARGET_SECONDS else "over"
    print(f"{verdict} the {TARGET_SECONDS:g} s target ({wall:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
