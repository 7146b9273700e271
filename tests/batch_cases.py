"""What the batch tests on local processes and on Ray share: the items, a sequential run
of them in this process, and the comparison item by item."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.batch.driver import ItemEnded, run_batch
from agent.batch.items import BatchItem, Defaults, read_items
from agent.batch.ledger import Ledger
from agent.batch.pool import Pool, UnitDone
from agent.batch.work import WorkerState
from agent.evals import arithmetic
from agent.models.base import Model, Request
from agent.tasks import ObjectiveOptions, ObjectiveRunner, ObjectiveStore
from agent.testing import FunctionModel
from helpers.models import ObjectiveScript, make_model

MODEL = "python:helpers.models:make_model"
FRAGILE = "python:helpers.batch:make_fragile_model"
SLOW = "python:batch_cases:make_slow_model"
LINES = ('{"objective": "plan a trip"}', '{"objective": "What is 2 + 2?", "single": true}',
         '{"objective": "plan a party", "max_tasks": 2}', '{"objective": "plan a trip"}')


def write_items(folder: Path, lines: tuple[str, ...] = LINES, model: str = MODEL) -> list[BatchItem]:
    path = folder / "batch.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return read_items(path, Defaults(model=model, options=ObjectiveOptions(tools=())))


def summary(store: ObjectiveStore, run_id: str) -> dict[str, Any]:
    run = store.run(run_id)
    return {"objective": run.objective, "status": run.status, "stop": run.stop_reason, "answer": run.answer,
            "tasks": [(t.text, t.status, t.result) for t in store.tasks(run_id)],
            "events": [e["type"] for e in store.events(run_id)]}


def sequential(items: list[BatchItem], store: ObjectiveStore) -> list[dict[str, Any]]:
    """Each item run as `agent run` runs it, one after the other in this process."""
    out = []
    for item in items:
        runner = ObjectiveRunner(model=make_model(), store=store)
        record = runner.start(item.objective, options=item.options, model_spec=item.model)
        for _ in runner.events(record.id):
            pass
        out.append(summary(store, record.id))
    return out


def batched(items: list[BatchItem], pool: Pool, store: ObjectiveStore) -> tuple[list[ItemEnded], list[Any]]:
    """Ended items in file order, and every event as it came."""
    ledger = Ledger(store.path)
    events = list(run_batch(items, pool, store=store, ledger=ledger, batch_id=ledger.start(Path("batch.jsonl"))))
    ended = sorted((e for e in events if isinstance(e, ItemEnded)), key=lambda e: e.item.line)
    return ended, events


@dataclass(frozen=True)
class ProbeUnit:
    """A unit that reports its worker: process, llama.cpp threads, models loaded so far."""

    key: str
    model: str = MODEL

    def execute(self, worker: WorkerState) -> tuple[int, int, int]:
        worker.model(self.model)
        return os.getpid(), worker.threads, worker.loads


@dataclass(frozen=True)
class EngineThreadsUnit:
    """A unit that reports the llama.cpp threads of its worker's model."""

    key: str
    model: str

    def execute(self, worker: WorkerState) -> int:
        return int(getattr(worker.model(self.model), "options").n_threads)


def probe(pool: Pool, units: int = 6) -> dict[int, set[tuple[int, int]]]:
    """Each worker process: the (threads, loads) it reported."""
    seen: dict[int, set[tuple[int, int]]] = {}
    for event in pool.run([ProbeUnit(str(n)) for n in range(units)]):
        assert isinstance(event, UnitDone), event
        pid, threads, loads = event.value  # type: ignore[misc]
        seen.setdefault(pid, set()).add((threads, loads))
    return seen


def _arithmetic_answer(request: Request) -> str:
    """A Calculator call with the problem's formula for most problems; a wrong plain answer
    for every third one (by id), so outcomes differ item by item."""
    problem = next(p for p in arithmetic.load_problems() if p.question == request.prompt.user)
    assistant = request.prompt.assistant
    if sum(map(ord, problem.id)) % 3 == 0:
        return " The answer is 0."
    if assistant.endswith(("[", "[Calculator(")):
        return f"{'' if assistant.endswith('(') else 'Calculator('}{problem.formula})]"
    if "[Calculator(" in assistant:
        return "."
    return f" The answer is [Calculator({problem.formula})]."


def load_arithmetic_model(spec: str | None, threads: int) -> Model:
    """An eval worker's loader: a scripted model that answers the arithmetic set."""
    return FunctionModel(_arithmetic_answer, name=spec or "scripted")


def make_slow_model() -> FunctionModel:
    """Answers each single question after a second and a half (on any worker: it needs
    no environment of its own)."""

    def execute(task: str) -> str:
        time.sleep(1.5)
        return f"Result of {task}."

    return ObjectiveScript(execute=execute).model()
