"""What a worker does: keep a model per spec and the installed tools, and run the units
the driver sends it. A unit is a small picklable value; what it returns goes back to
the driver, which alone writes to the run store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from agent.models.base import Model
from agent.tasks.state import ObjectiveOptions, ObjectiveRecord, ObjectiveStatus, Task
from agent.tasks.runner import ObjectiveRunner
from agent.tasks.store import ObjectiveStore
from agent.tools import Tool, installed_tools

Loader = Callable[[str | None, int], Model]
"""Loads the model of a spec (None: the default model) with that many llama.cpp threads.
It runs in the workers, so it must be picklable: a module-level function."""


class WorkerState:
    """A worker's models, loaded on first use and kept (one per spec), and its tools."""

    def __init__(self, loader: Loader, threads: int) -> None:
        self.loader = loader
        self.threads = threads
        self._models: dict[str | None, Model] = {}
        self._tools: list[Tool] | None = None
        self.loads = 0

    def model(self, spec: str | None) -> Model:
        if spec not in self._models:
            self._models[spec] = self.loader(spec, self.threads)
            self.loads += 1
        return self._models[spec]

    def tools(self) -> list[Tool]:
        if self._tools is None:
            self._tools = list(installed_tools([]).values())
        return self._tools

    def close(self) -> None:
        for model in self._models.values():
            close = getattr(model, "close", None)
            if callable(close):
                close()
        self._models.clear()


class Unit(Protocol):
    """One piece of work; `key` names it in the batch."""

    @property
    def key(self) -> str: ...

    def execute(self, worker: WorkerState) -> object: ...


@dataclass(frozen=True)
class RunExport:
    """A finished objective run as its worker stored it, to be written by the driver."""

    record: ObjectiveRecord
    tasks: tuple[Task, ...]
    events: tuple[dict[str, object], ...]


@dataclass(frozen=True)
class ObjectiveUnit:
    """Run one objective as `agent run` does, in a store of the worker's own (in memory)."""

    key: str
    objective: str
    model: str | None
    options: ObjectiveOptions

    def execute(self, worker: WorkerState) -> RunExport:
        model = worker.model(self.model)
        store = ObjectiveStore(":memory:")
        try:
            runner = ObjectiveRunner(model=model, store=store, tools=worker.tools())
            record = runner.start(self.objective, options=self.options, model_spec=self.model or model.name)
            for _ in runner.events(record.id):
                pass
            return export_run(store, record.id)
        finally:
            store.close()


def export_run(store: ObjectiveStore, run_id: str) -> RunExport:
    return RunExport(store.run(run_id), tuple(store.tasks(run_id)), tuple(store.events(run_id)))


def import_run(store: ObjectiveStore, run: RunExport) -> ObjectiveRecord:
    """Write `run` into `store` as a new run (ids of its own) with the same tasks, order,
    results, totals and transcript; it is not running in any process."""
    record = run.record
    status = ObjectiveStatus.INTERRUPTED if record.status is ObjectiveStatus.RUNNING else record.status
    with store.transaction():
        new = store.create_run(record.objective, model=record.model, options=record.options)
        for task in sorted(run.tasks, key=lambda t: t.id):
            added = store.add_tasks(new.id, [task.text], origin=task.origin, parent=task.parent)[0]
            assert added.id == task.id, "a run's task ids are consecutive from 1"
            store.update_task(new.id, task.id, position=task.position, status=task.status, result=task.result,
                              detail=task.detail, attempts=task.attempts, followed_up=task.followed_up)
        for event in run.events:
            store.append_event(new.id, {**event, "run_id": new.id} if "run_id" in event else dict(event))
        store.update_run(new.id, status=status, phase=record.phase, stop_reason=record.stop_reason,
                         detail=record.detail, answer=record.answer, totals=record.totals,
                         creations=record.creations, pid=None)
    return store.run(new.id)


def record_failure(store: ObjectiveStore, objective: str, *, model: str, options: ObjectiveOptions, reason: str) -> ObjectiveRecord:
    """A run for an item no worker could finish: failed with `reason`, resumable from its start."""
    with store.transaction():
        new = store.create_run(objective, model=model, options=options)
        store.update_run(new.id, status=ObjectiveStatus.FAILED, detail=reason, pid=None)
    return store.run(new.id)
