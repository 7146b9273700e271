"""A planned `agent run` on the embedded default model: wall time split into model, tool
and framework time, and how many tokens the model decoded for what the run needed.

    python benchmarks/objective.py [--model SPEC] [--objective TEXT] [--max-tasks N]
                                   [--cli-objective TEXT] [--no-cli]

The same objective runs twice in process through `ObjectiveRunner`: first with saved KV
states off (`state_cache_mb=0`: only the live cache is reused, as before), then with
them on (the default). The default objective names five tasks, which the planner lists;
the task limit (`--max-tasks`, 7) leaves room for new ones, so, as in most planned
runs, the planner's creation steps come between the tasks and overwrite the cache of
the task prompt. For each run:

    decoded:  tokens the model really evaluated (prompt tokens not taken from a cache,
              and generated tokens), summed over every request of the run
    distinct: tokens of the run's distinct prompts and outputs, counting a prefix shared
              by several requests once (the size of the trie of every request's tokens)
    ratio:    decoded / distinct; 1.0 means every token was evaluated once.
              Target with states on: <= 1.15.

The split of wall time comes from the run's totals: seconds inside the model's streams,
seconds inside tools, the rest is the framework (prompts, detection, SQLite writes).
Last, `agent run "plan a trip"` (`--cli-objective`) runs through the `agent` command in a
subprocess (start-up and model load included). Target: <= 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.cli.setup import installed
from agent.models import DEFAULT_MODEL, MODEL_ENV, LlamaModel, resolve_model
from agent.models.base import Completion, Request, WrappedModel
from agent.tasks import ObjectiveFinished, ObjectiveOptions, ObjectiveRunner, ObjectiveStore
from agent.tasks.state import TaskLimits

TARGET_SECONDS = 60.0
TARGET_RATIO = 1.15
OBJECTIVE = ("Do these five tasks in order: 1. compute 420 + 5 * 85; 2. compute 5 * 40; 3. compute 3 * 18; "
             "4. add the three results; 5. add a 10% buffer to the total")


@dataclass
class Ledger:
    """Per request: the tokens the model's cache held when it finished (its prompt and
    the generated tokens it evaluated), and how many of them it evaluated itself."""

    held: list[tuple[int, ...]] = field(default_factory=list)
    decoded: int = 0

    def distinct(self) -> int:
        return trie_size(self.held)


def trie_size(sequences: Sequence[Sequence[int]]) -> int:
    """Nodes of the trie of `sequences`: their tokens with shared prefixes counted once."""
    root: dict[int, dict[int, object]] = {}
    nodes = 0
    for sequence in sequences:
        node = root
        for token in sequence:
            child = node.get(token)
            if child is None:
                child = node[token] = {}
                nodes += 1
            node = child  # type: ignore[assignment]
    return nodes


class Recorded(WrappedModel):
    """A local model that writes what each request decoded into a `Ledger`."""

    def __init__(self, model: LlamaModel, ledger: Ledger) -> None:
        super().__init__(model)
        self.llama = model.engine.llama
        self.ledger = ledger

    def stream(self, request: Request, completion: Completion) -> Iterator[str]:
        try:
            yield from self.inner.stream(request, completion)
        finally:
            llama = self.llama
            usage = completion.usage
            if usage.requests:
                held = llama.input_ids[: llama.n_tokens].tolist()
                self.ledger.held.append(tuple(held))
                self.ledger.decoded += len(held) - (usage.prompt_tokens - usage.evaluated_tokens)


def in_process(model: LlamaModel, objective: str, home: Path,
               tasks: int) -> tuple[dict[str, float | str | int], str]:
    ledger = Ledger()
    model.engine.reset()
    store = ObjectiveStore(home / f"bench-{model.options.state_bytes}.sqlite3")
    runner = ObjectiveRunner(model=Recorded(model, ledger), store=store, tools=installed())
    end: ObjectiveFinished | None = None
    started = time.perf_counter()
    for event in runner.run(objective, options=ObjectiveOptions(limits=TaskLimits(max_tasks=tasks))):
        if isinstance(event, ObjectiveFinished):
            end = event
    wall = time.perf_counter() - started
    assert end is not None
    t = end.totals
    distinct = ledger.distinct()
    stats = model.engine.states.stats
    return {
        "wall_s": round(wall, 2), "model_s": round(t.model_seconds, 2), "tool_s": round(t.tool_seconds, 2),
        "framework_s": round(wall - t.model_seconds - t.tool_seconds, 2), "tasks": t.tasks_run,
        "requests": t.requests, "completion_tokens": t.completion_tokens, "prompt_tokens": t.prompt_tokens,
        "tool_calls": t.tool_calls, "stop": end.stop_reason.value,
        "decoded": ledger.decoded, "distinct": distinct, "ratio": round(ledger.decoded / distinct, 3),
        "states_saved": stats.saved, "states_restored": stats.restored, "tokens_spared": stats.spared,
    }, end.answer


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
    parser.add_argument("--objective", default=OBJECTIVE)
    parser.add_argument("--max-tasks", type=int, default=7)
    parser.add_argument("--cli-objective", default="plan a trip")
    parser.add_argument("--no-cli", action="store_true", help="skip the subprocess run")
    args = parser.parse_args()
    print(f"model {args.model}, objective {args.objective!r}, at most {args.max_tasks} tasks, {os.cpu_count()} cores")
    runs: dict[str, dict[str, float | str | int]] = {}
    answers: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for label, megabytes in (("states off", 0.0), ("states on", None)):
            options = {} if megabytes is None else {"state_cache_mb": megabytes}
            model = resolve_model(args.model, **options)
            assert isinstance(model, LlamaModel), "the objective benchmark needs a local GGUF model"
            runs[label], answer = in_process(model, args.objective, home, args.max_tasks)
            answers.add(answer)
            print(f"{label}: " + ", ".join(f"{k}={v}" for k, v in runs[label].items()))
        before, after = runs["states off"]["ratio"], runs["states on"]["ratio"]
        verdict = "within" if float(after) <= TARGET_RATIO else "over"
        print(f"decoded / distinct: {before} before, {after} after; {verdict} the {TARGET_RATIO} target")
        if len(answers) > 1:
            print("note: the two runs wrote different answers, so their token counts differ")
        if not args.no_cli:
            cli = through_cli(args.model, args.cli_objective, home)
            print("agent run (subprocess): " + ", ".join(f"{k}={v}" for k, v in cli.items()))
            wall = float(cli["wall_s"])
            verdict = "within" if wall <= TARGET_SECONDS else "over"
            print(f"{verdict} the {TARGET_SECONDS:g} s target ({wall:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
