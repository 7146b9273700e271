"""What an objective run reports, step by step; each event turns into JSON for the
transcript and for `agent run --json`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from agent.events import Event as AgentEvent, StopReason
from agent.tasks.state import ObjectiveStatus, Task, Totals


@dataclass(frozen=True)
class ObjectiveStarted:
    run_id: str
    objective: str
    model: str
    resumed: bool
    tasks: tuple[Task, ...] = ()
    totals: Totals = field(default_factory=Totals)
    """What the run had spent before this session."""


@dataclass(frozen=True)
class Notice:
    """Something worth telling the user that changes no state (a retry, a fallback)."""

    message: str


@dataclass(frozen=True)
class TasksPlanned:
    tasks: tuple[Task, ...]
    fallback: bool = False
    """The planner's output never parsed: the objective itself is the one task."""


@dataclass(frozen=True)
class TaskStarted:
    task: Task


@dataclass(frozen=True)
class TaskOutput:
    """An event of the agent run that executes `task_id`: text, a call, its end."""

    task_id: int
    event: AgentEvent


@dataclass(frozen=True)
class TaskFinished:
    task: Task
    totals: Totals


@dataclass(frozen=True)
class Judged:
    done: bool
    reason: str


@dataclass(frozen=True)
class TasksCreated:
    parent: int
    tasks: tuple[Task, ...]
    dropped: tuple[str, ...] = ()
    """Proposals left out as duplicates or over the cap."""


@dataclass(frozen=True)
class TasksReordered:
    order: tuple[int, ...]
    """Pending task ids, first to run first."""


@dataclass(frozen=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True)
class ObjectiveFinished:
    run_id: str
    status: ObjectiveStatus
    stop_reason: StopReason
    detail: str
    answer: str
    totals: Totals


ObjectiveEvent = (
    ObjectiveStarted | Notice | TasksPlanned | TaskStarted | TaskOutput | TaskFinished | Judged
    | TasksCreated | TasksReordered | AnswerDelta | ObjectiveFinished
)

_KINDS: dict[type[Any], str] = {
    ObjectiveStarted: "run_started", Notice: "notice", TasksPlanned: "tasks_planned", TaskStarted: "task_started",
    TaskOutput: "task_output", TaskFinished: "task_finished", Judged: "judged", TasksCreated: "tasks_created",
    TasksReordered: "tasks_reordered", AnswerDelta: "answer_delta", ObjectiveFinished: "objective_finished",
}


def kind(event: ObjectiveEvent | AgentEvent) -> str:
    """A snake-case name for the event's type, e.g. `task_started` or `text_delta`."""
    known = _KINDS.get(type(event))
    if known:
        return known
    name = type(event).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def to_json(event: ObjectiveEvent | AgentEvent) -> dict[str, Any]:
    """The event as JSON-ready data with a `type` key."""
    data: dict[str, Any] = {"type": kind(event)}
    for f in dataclasses.fields(event):
        data[f.name] = _plain(getattr(event, f.name))
    if isinstance(event, TaskOutput):
        data["event"] = to_json(event.event)
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
