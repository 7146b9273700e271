"""What the batch tests on local processes and on Ray share: the items, a sequential run
of them in this process, and the comparison item by item."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.batch.driver import ItemEnded, run_batch
from agent.batch.items import BatchItem, Defaults, read_items
from agent.batch.ledger import Ledger
from agent.batch.pool import Pool, UnitDone
from agent.batch.work import WorkerState
from agent.tasks import ObjectiveOptions, ObjectiveRunner, ObjectiveStore
from helpers.models import make_model

MODEL = "python:helpers.models:make_model"
FRAGILE = "python:helpers.batch:make_fragile_model"
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


def probe(pool: Pool, units: int = 6) -> dict[int, set[tuple[int, int]]]:
    """Each worker process: the (threads, loads) it reported."""
    seen: dict[int, set[tuple[int, int]]] = {}
    for event in pool.run([ProbeUnit(str(n)) for n in range(units)]):
        assert isinstance(event, UnitDone), event
        pid, threads, loads = event.value  # type: ignore[misc]
        seen.setdefault(pid, set()).add((threads, loads))
    return seen
