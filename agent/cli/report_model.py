"""What a run's report shows, read from the store: each task's typed parts (never its
rendered text, except for runs stored before parts were kept), its model time, tool time
and tokens, and the task list as it evolved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.events import CallRecord, Part, Spliced, parts_of
from agent.tasks.recording import MODEL_OUTPUT
from agent.tasks.state import ObjectiveRecord
from agent.tasks.store import ObjectiveStore


@dataclass
class TaskView:
    id: int
    text: str
    status: str = "pending"
    parts: tuple[Part, ...] = ()
    detail: str = ""
    model_seconds: float = 0.0
    tool_seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    started: float | None = None
    """Seconds after the run's first model request."""
    attempts: int = 0

    @property
    def calls(self) -> list[CallRecord]:
        return [p for p in self.parts if isinstance(p, CallRecord)]

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Change:
    """One step in the life of the task list."""

    kind: str
    title: str
    lines: tuple[str, ...] = ()


@dataclass
class RunView:
    run: ObjectiveRecord
    tasks: list[TaskView]
    changes: list[Change]
    planning_seconds: float = 0.0
    planning_tokens: int = 0
    planning_requests: int = 0
    timed: bool = False
    """Model time comes from recorded requests (runs stored before them show estimates)."""

    @property
    def ran(self) -> list[TaskView]:
        """The tasks that ran, in the order they first started."""
        ran = [t for t in self.tasks if t.attempts]
        return sorted(ran, key=lambda t: float("inf") if t.started is None else t.started)


def part_from_json(data: Any) -> Part:
    if isinstance(data, str):
        return data
    if isinstance(data, Mapping) and "index" in data:
        return CallRecord(index=int(data["index"]), name=str(data["name"]), raw=str(data.get("raw", "")),
                          text=str(data.get("text", "")), arguments=data.get("arguments"),
                          result=data.get("result"), error=data.get("error"), seconds=float(data.get("seconds", 0.0)))
    if isinstance(data, Mapping):
        return Spliced(str(data.get("text", "")))
    return str(data)


def result_parts(result: Mapping[str, Any]) -> tuple[Part, ...]:
    """The typed parts of a stored `RunResult`; from its text for runs stored without them."""
    stored = result.get("parts")
    if stored:
        return tuple(part_from_json(p) for p in stored)
    return parts_of(str(result.get("text", "")))


def run_view(store: ObjectiveStore, run_id: str) -> RunView:
    run = store.run(run_id)
    views = {t.id: TaskView(t.id, t.text, t.status.value, detail=t.detail) for t in store.tasks(run.id)}
    view = RunView(run, list(views.values()), [])
    first: float | None = None
    for data in store.events(run.id):
        kind = data.get("type")
        if kind == MODEL_OUTPUT:
            first = data["started"] if first is None else first
            _model_output(view, views, data, first)
        elif kind == "task_output" and data["event"].get("type") == "run_finished":
            _task_result(views, data["task_id"], data["event"]["result"], timed=view.timed)
        elif kind == "task_started":
            if data["task"]["id"] in views:
                views[data["task"]["id"]].attempts += 1
        change = _change(data, {t.id: t.text for t in view.tasks})
        if change is not None:
            view.changes.append(change)
    return view


def _model_output(view: RunView, views: dict[int, TaskView], data: Mapping[str, Any], first: float) -> None:
    view.timed = True
    usage = data.get("usage", {})
    tokens = int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
    task = views.get(data["task_id"]) if data.get("task_id") is not None else None
    if task is None:
        view.planning_seconds += float(data.get("seconds", 0.0))
        view.planning_tokens += tokens
        view.planning_requests += 1
        return
    task.model_seconds += float(data.get("seconds", 0.0))
    task.requests += 1
    if task.started is None:
        task.started = float(data["started"]) - first


def _task_result(views: dict[int, TaskView], task_id: int, result: Mapping[str, Any], *, timed: bool) -> None:
    task = views.get(task_id)
    if task is None:
        return
    task.parts = result_parts(result)
    tool = sum(c.seconds for c in task.calls)
    task.tool_seconds += tool
    usage = result.get("usage", {})
    task.prompt_tokens += int(usage.get("prompt_tokens", 0))
    task.completion_tokens += int(usage.get("completion_tokens", 0))
    if not timed:
        task.model_seconds += max(0.0, float(result.get("seconds", 0.0)) - tool)
        task.requests += int(usage.get("requests", 0))


def _listed(tasks: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    return tuple(f"{t['id']}. {t['text']}" for t in tasks)


def _change(data: Mapping[str, Any], names: Mapping[int, str]) -> Change | None:
    kind = data.get("type")
    if kind == "run_started" and data.get("resumed"):
        return Change("resumed", "Resumed")
    if kind == "notice":
        return Change("notice", str(data["message"]))
    if kind == "tasks_planned":
        title = "Planned (the objective itself, as the plan did not parse)" if data.get("fallback") else "Planned"
        return Change("planned", title, _listed(data["tasks"]))
    if kind == "task_started":
        return Change("started", f"Task {data['task']['id']} started")
    if kind == "task_finished":
        task = data["task"]
        detail = (task["detail"],) if task["detail"] else ()
        return Change(task["status"], f"Task {task['id']} {task['status']}", detail)
    if kind == "tasks_created":
        lines = _listed(data["tasks"]) + tuple(f"dropped: {d}" for d in data.get("dropped", ()))
        title = f"Created after task {data['parent']}" if data["tasks"] else f"No new task after task {data['parent']}"
        return Change("created", title, lines)
    if kind == "tasks_reordered":
        return Change("reordered", "Reordered, first to run first",
                      tuple(f"{i}. {names.get(i, '')}" for i in data["order"]))
    if kind == "judged":
        return Change("judged", "Judged done" if data["done"] else "Judged not done yet",
                      (data["reason"],) if data.get("reason") else ())
    if kind == "objective_finished":
        return Change("finished", f"Finished: {data['stop_reason']}", (data["detail"],) if data.get("detail") else ())
    return None
