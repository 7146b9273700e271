"""The records of an objective run: its tasks, limits, options and running totals."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import TYPE_CHECKING, Any

from agent.models.base import Usage

if TYPE_CHECKING:
    from agent.parts import Part
    from agent.reasons import StopReason


class TaskStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CUT_OFF = "cut_off"
    """Stopped by the run's time budget before it finished; it runs again from its start
    when the run is resumed with more time."""


class ObjectiveStatus(str, Enum):
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    FINISHED = "finished"
    FAILED = "failed"


class Phase(str, Enum):
    PLANNING = "planning"
    EXECUTING = "executing"
    ANSWERING = "answering"
    FINISHED = "finished"


class Approve(str, Enum):
    """Which tool calls wait for the user's approval."""

    NONE = "none"
    PYTHON = "python"
    ALL = "all"


@dataclass(frozen=True)
class TaskLimits:
    """Budgets of one objective run; every one of them ends the run when spent."""

    max_tasks: int = 4
    """Tasks executed in all; planned and created tasks never exceed what is left of it."""
    max_calls: int = 20
    """Tool calls over the whole run."""
    max_tokens: int = 6000
    """Completion tokens over the whole run (planning, tasks and the answer)."""
    timeout: float | None = 600.0
    """Wall-clock seconds over the whole run, summed across resumptions."""
    max_cost: float | None = None
    """US dollars, enforced where the model's price is known."""
    max_creations: int = 2
    """Task-creation steps per run."""
    new_per_creation: int = 3
    task_calls: int = 5
    task_tokens: int = 200
    task_timeout: float = 180.0
    step_tokens: int = 160
    """Completion tokens of one planning, creation, prioritisation or judgement step."""
    answer_tokens: int = 300
    plan_retries: int = 2
    """Attempts after the first before a malformed plan falls back to one task."""
    context_chars: int = 1500
    """Characters of finished-task results shown to later steps."""


@dataclass(frozen=True)
class Overrides:
    """Decoding settings chosen over the model's recipe; None keeps the recipe's."""

    grammar: bool | None = None
    trigger_k: int | None = None
    """0 turns the recipe's trigger off."""
    examples: int | None = None
    check_arithmetic: bool | None = None


@dataclass(frozen=True)
class ObjectiveOptions:
    limits: TaskLimits = field(default_factory=TaskLimits)
    tools: tuple[str, ...] | None = None
    """Tool names; None means every installed tool."""
    approve: Approve = Approve.NONE
    single: bool = False
    """One agent run on the objective, asked as a question: no planning, creation or final step."""
    overrides: Overrides = field(default_factory=Overrides)

    def to_json(self) -> dict[str, Any]:
        return {"limits": asdict(self.limits), "tools": None if self.tools is None else list(self.tools),
                "approve": self.approve.value, "single": self.single, "overrides": asdict(self.overrides)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ObjectiveOptions:
        limits = TaskLimits(**_known(TaskLimits, data.get("limits", {})))
        tools = data.get("tools")
        return cls(limits=limits, tools=None if tools is None else tuple(tools),
                   approve=Approve(data.get("approve", "none")), single=bool(data.get("single", False)),
                   overrides=Overrides(**_known(Overrides, data.get("overrides", {}))))


def _known(kind: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(kind)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class Task:
    id: int
    text: str
    position: int
    """Order among the pending tasks: lowest runs first."""
    status: TaskStatus = TaskStatus.PENDING
    result: str = ""
    detail: str = ""
    """How the task's agent run ended, in words."""
    origin: str = "plan"
    """plan, create or objective."""
    parent: int | None = None
    attempts: int = 0
    followed_up: bool = False
    """The creation and prioritisation steps after this task have been stored."""
    parts: tuple[Part, ...] = ()
    """What the task wrote as typed parts (`result` is their rendering, stripped); empty
    for a task that has not finished, or one stored before parts were kept."""


def written(task: Task) -> tuple[Part, ...]:
    """What the task wrote, as typed parts: as stored, or read from its result's text for
    a task stored before parts were kept."""
    from agent.parts import parts_of  # the markup loads where text is read back, not to list runs

    return task.parts or (parts_of(task.result) if task.result else ())


@dataclass
class Totals(Usage):
    """What an objective run has spent so far: the model's `Usage` over every request
    (planning, tasks and the answer), and what only a run counts."""

    tool_calls: int = 0
    tasks_run: int = 0
    cost: float | None = 0.0
    """US dollars; None when the model's price is unknown."""
    seconds: float = 0.0
    model_seconds: float = 0.0
    tool_seconds: float = 0.0

    def snapshot(self) -> Totals:
        return Totals(**asdict(self))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Totals:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class ObjectiveRecord:
    id: str
    objective: str
    model: str
    options: ObjectiveOptions
    status: ObjectiveStatus
    phase: Phase
    stop_reason: StopReason | None
    detail: str
    answer: str
    totals: Totals
    creations: int
    created: float
    updated: float
    pid: int | None
