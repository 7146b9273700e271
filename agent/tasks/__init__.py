"""Objectives: an AutoGPT/BabyAGI task list on top of the Toolformer loop, stored in
SQLite and resumable.

    runner = ObjectiveRunner(model=model, store=ObjectiveStore(), tools=tools)
    for event in runner.run("plan a trip to Lisbon"):
        ...
"""

from typing import TYPE_CHECKING

from agent.lazy import lazy_attributes
from agent.tasks.state import (
    Approve, ObjectiveOptions, ObjectiveRecord, ObjectiveStatus, Overrides, Phase, Task, TaskLimits, TaskStatus, Totals,
)

if TYPE_CHECKING:
    from agent.reasons import StopReason
    from agent.tasks.approval import DECLINED, ApproveFn, approved_tools, with_approval
    from agent.tasks.events import (
        AnswerDelta, Judged, Notice, ObjectiveEvent, ObjectiveFinished, ObjectiveStarted, TaskFinished, TaskOutput,
        TasksCreated, TasksPlanned, TasksReordered, TaskStarted, to_json,
    )
    from agent.tasks.planner import Judgement, Planner, Planning
    from agent.tasks.runner import ObjectiveNotResumable, ObjectiveRunner
    from agent.tasks.scripted import ScriptedPlanner
    from agent.tasks.structured import Structured
    from agent.tasks.store import HOME_ENV, ObjectiveStore, UnknownRun, default_home

_HOMES = {
    "agent.reasons": ("StopReason",),
    "agent.tasks.approval": ("DECLINED", "ApproveFn", "approved_tools", "with_approval"),
    "agent.tasks.events": (
        "AnswerDelta", "Judged", "Notice", "ObjectiveEvent", "ObjectiveFinished", "ObjectiveStarted", "TaskFinished",
        "TaskOutput", "TasksCreated", "TasksPlanned", "TasksReordered", "TaskStarted", "to_json",
    ),
    "agent.tasks.planner": ("Judgement", "Planner", "Planning"),
    "agent.tasks.runner": ("ObjectiveRunner", "ObjectiveNotResumable"),
    "agent.tasks.scripted": ("ScriptedPlanner",),
    "agent.tasks.structured": ("Structured",),
    "agent.tasks.store": ("HOME_ENV", "ObjectiveStore", "UnknownRun", "default_home"),
}
# The runner (and with it the whole loop) and the store load on first use.
__getattr__ = lazy_attributes(__name__, {name: home for home, names in _HOMES.items() for name in names})

__all__ = [
    "DECLINED", "HOME_ENV", "AnswerDelta", "Approve", "ApproveFn", "Judged", "Judgement", "Notice",
    "ObjectiveEvent", "ObjectiveFinished", "ObjectiveNotResumable", "ObjectiveOptions", "ObjectiveRecord",
    "ObjectiveRunner", "ObjectiveStarted", "ObjectiveStatus", "ObjectiveStore", "Overrides", "Phase", "Planner",
    "Planning", "ScriptedPlanner", "StopReason", "Structured", "Task", "TaskFinished", "TaskLimits", "TaskOutput",
    "TaskStarted", "TaskStatus", "TasksCreated", "TasksPlanned", "TasksReordered", "Totals", "UnknownRun",
    "approved_tools", "default_home", "to_json", "with_approval",
]
