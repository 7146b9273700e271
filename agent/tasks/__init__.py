"""Objectives: an AutoGPT/BabyAGI task list on top of the Toolformer loop, stored in
SQLite and resumable.

    runner = ObjectiveRunner(model=model, store=RunStore(), tools=tools)
    for event in runner.run("plan a trip to Lisbon"):
        ...
"""

from agent.tasks.approval import DECLINED, ApproveFn, approved_tools, with_approval
from agent.tasks.events import (
    AnswerDelta, Judged, Notice, ObjectiveEvent, ObjectiveFinished, RunStarted, TaskFinished, TaskOutput,
    TasksCreated, TasksPlanned, TasksReordered, TaskStarted, to_json,
)
from agent.events import StopReason
from agent.tasks.models import (
    Approve, Limits, Overrides, Phase, RunOptions, RunRecord, RunStatus, Task, TaskStatus, Totals
)
from agent.tasks.runner import ObjectiveRunner, RunNotResumable
from agent.tasks.store import HOME_ENV, RunStore, UnknownRun, default_home

__all__ = [
    "DECLINED", "HOME_ENV", "AnswerDelta", "Approve", "ApproveFn", "Judged", "Limits", "Notice",
    "ObjectiveEvent", "ObjectiveFinished", "ObjectiveRunner", "StopReason", "Phase", "RunNotResumable",
    "Overrides", "RunOptions", "RunRecord", "RunStarted", "RunStatus", "RunStore", "Task", "TaskFinished", "TaskOutput",
    "TaskStarted", "TaskStatus", "TasksCreated", "TasksPlanned", "TasksReordered", "Totals", "UnknownRun",
    "approved_tools", "default_home", "to_json", "with_approval",
]
