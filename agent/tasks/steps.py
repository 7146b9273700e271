"""The steps of an objective run, and the pure choice of the next one.

A run is a loop: `next_step(state)` reads the saved state (the run's record, its tasks,
what it has spent, and the step just applied) and names one step; the runner applies
it, commits its changes with its event, and asks again. Every way the run can go is
one of the `Step` types below:

    Plan        phase planning: list the tasks
    Start       a pending task is next: mark it running
    Execute     a running task: run it through the Toolformer loop, store its result
    Judge       a finished task, nothing pending: is the objective already reached?
    Create      a finished task that may lead to new ones: ask for them
    Prioritise  tasks were just created: order the pending ones
    FollowUp    a finished task that leads to nothing new: mark it followed up
    StopTasks   a budget is spent or no task is left: store why; the answer is next
    Answer      phase answering: write the answer and finish the run
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import assert_never

from agent.reasons import StopReason
from agent.tasks.budget import budget_stop, room_for_new_tasks
from agent.tasks.similarity import is_duplicate
from agent.tasks.state import ObjectiveOptions, Phase, Task, TaskStatus, Totals


@dataclass(frozen=True)
class Plan:
    pass


@dataclass(frozen=True)
class Start:
    task: Task


@dataclass(frozen=True)
class Execute:
    task: Task


@dataclass(frozen=True)
class Judge:
    task: Task


@dataclass(frozen=True)
class Create:
    task: Task


@dataclass(frozen=True)
class Prioritise:
    pass


@dataclass(frozen=True)
class FollowUp:
    task: Task


@dataclass(frozen=True)
class StopTasks:
    reason: StopReason
    detail: str


@dataclass(frozen=True)
class Answer:
    pass


Step = Plan | Start | Execute | Judge | Create | Prioritise | FollowUp | StopTasks | Answer


@dataclass(frozen=True)
class ObjectiveState:
    """What the next step is chosen from: the run as stored, and the step just applied
    in this session (None when the session starts)."""

    phase: Phase
    options: ObjectiveOptions
    tasks: tuple[Task, ...]
    totals: Totals
    creations: int
    last: Step | None = None

    @property
    def pending(self) -> list[Task]:
        return [t for t in self.tasks if t.status is TaskStatus.PENDING]


def next_step(state: ObjectiveState) -> Step:
    """The step to apply to `state`; a finished run has none (ValueError)."""
    match state.phase:
        case Phase.PLANNING:
            return Plan()
        case Phase.EXECUTING:
            return _executing(state)
        case Phase.ANSWERING:
            return Answer()
        case Phase.FINISHED:
            raise ValueError("a finished run has no next step")
        case _:
            assert_never(state.phase)


def _executing(state: ObjectiveState) -> Step:
    running = [t for t in state.tasks if t.status is TaskStatus.RUNNING]
    if running:
        return Execute(running[0])
    pending = state.pending
    last = state.last
    if isinstance(last, Create) and len(pending) > 1 and any(t.parent == last.task.id for t in pending):
        return Prioritise()
    unfinished = [t for t in state.tasks
                  if t.status in (TaskStatus.DONE, TaskStatus.FAILED) and not t.followed_up]
    if unfinished:
        return _follow_up(state, unfinished[0])
    limits = state.options.limits
    stop = budget_stop(state.totals, limits)
    if stop is not None:
        return StopTasks(*stop)
    if not pending:
        return StopTasks(StopReason.EMPTY, "no task is left")
    return Start(pending[0])


def _follow_up(state: ObjectiveState, task: Task) -> Step:
    """After `task` finished: judge, create new tasks, or only mark it followed up."""
    if not may_create(state, task):
        return FollowUp(task)
    judged = isinstance(state.last, Judge) and state.last.task.id == task.id
    if state.pending or judged:
        return Create(task)
    return Judge(task)


def may_create(state: ObjectiveState, task: Task) -> bool:
    """Whether new tasks may follow `task`: not a single question, creation steps and
    room for tasks left, no budget spent, and the task found something new."""
    limits = state.options.limits
    room = room_for_new_tasks(state.totals, limits, pending=len(state.pending))
    return (not state.options.single and state.creations < limits.max_creations and room > 0
            and budget_stop(state.totals, limits) is None and new_information(task, state.tasks))


def new_information(task: Task, tasks: Sequence[Task]) -> bool:
    """A task's result that is there and not (nearly) the same as an earlier one's."""
    if task.status is not TaskStatus.DONE or not task.result.strip():
        return False
    earlier = [t.result for t in tasks if t.id != task.id and t.status is TaskStatus.DONE]
    return not is_duplicate(task.result, earlier, threshold=0.9)
