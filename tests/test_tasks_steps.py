"""`next_step` on stored states: every way an objective run can go, chosen without a model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agent.tasks import ObjectiveOptions, Phase, StopReason, Task, TaskLimits, TaskStatus, Totals
from agent.tasks.steps import (
    Answer, Create, Execute, FollowUp, Judge, ObjectiveState, Plan, Prioritise, Start, Step, StopTasks, next_step,
)


def task(id: int, status: TaskStatus = TaskStatus.PENDING, *, result: str = "", followed_up: bool = False,
         parent: int | None = None) -> Task:
    return Task(id=id, text=f"task {id}", position=id, status=status, result=result, followed_up=followed_up,
                parent=parent)


def done(id: int, result: str | None = None, *, followed_up: bool = False) -> Task:
    return task(id, TaskStatus.DONE, result=result or f"result number {id} about {'xyz'[id % 3] * 6}",
                followed_up=followed_up)


def state(*tasks: Task, phase: Phase = Phase.EXECUTING, last: Step | None = None, single: bool = False,
          totals: Totals | None = None, creations: int = 0, **limits: int) -> ObjectiveState:
    options = ObjectiveOptions(limits=TaskLimits(**limits), single=single)
    return ObjectiveState(phase=phase, options=options, tasks=tasks, totals=totals or Totals(),
                          creations=creations, last=last)


def test_a_new_run_plans_and_a_run_being_answered_answers() -> None:
    assert next_step(state(phase=Phase.PLANNING)) == Plan()
    assert next_step(state(done(1), phase=Phase.ANSWERING)) == Answer()


def test_a_finished_run_has_no_next_step() -> None:
    with pytest.raises(ValueError):
        next_step(state(phase=Phase.FINISHED))


def test_the_first_pending_task_starts_and_a_running_one_executes() -> None:
    first, second = task(1), task(2)
    assert next_step(state(first, second)) == Start(first)
    running = replace(first, status=TaskStatus.RUNNING, attempts=1)
    assert next_step(state(running, second, last=Start(first))) == Execute(running)


def test_a_finished_task_with_tasks_pending_leads_to_creation() -> None:
    finished = done(1)
    assert next_step(state(finished, task(2))) == Create(finished)


def test_the_last_finished_task_is_judged_first_then_creation_follows() -> None:
    finished = done(1)
    assert next_step(state(finished)) == Judge(finished)
    assert next_step(state(finished, last=Judge(finished))) == Create(finished)


def test_new_tasks_are_prioritised_only_when_more_than_one_is_pending() -> None:
    parent = done(1, followed_up=True)
    created = [task(2, parent=1), task(3, parent=1)]
    assert next_step(state(parent, *created, last=Create(parent))) == Prioritise()
    assert next_step(state(parent, created[0], last=Create(parent))) == Start(created[0])
    assert next_step(state(parent, *created, last=Prioritise())) == Start(created[0])


def test_a_task_that_leads_nowhere_is_only_followed_up() -> None:
    failed = task(1, TaskStatus.FAILED, result="")
    assert next_step(state(failed)) == FollowUp(failed)
    empty = done(1, result=" ")
    assert next_step(state(empty)) == FollowUp(empty)
    repeated = done(2, result=done(1).result)
    assert next_step(state(done(1, followed_up=True), repeated, task(3))) == FollowUp(repeated)


def test_no_creation_in_a_single_question_or_once_creations_are_used_up() -> None:
    finished = done(1)
    assert next_step(state(finished, single=True)) == FollowUp(finished)
    assert next_step(state(finished, creations=2, max_creations=2)) == FollowUp(finished)
    assert next_step(state(finished, totals=Totals(tasks_run=4), max_tasks=4)) == FollowUp(finished)


def test_an_empty_list_stops_the_tasks() -> None:
    assert next_step(state(done(1, followed_up=True))) == StopTasks(StopReason.EMPTY, "no task is left")


def test_a_spent_budget_stops_before_the_next_task() -> None:
    step = next_step(state(done(1, followed_up=True), task(2), totals=Totals(tool_calls=5), max_calls=5))
    assert isinstance(step, StopTasks) and step.reason is StopReason.MAX_CALLS
    step = next_step(state(task(1), totals=Totals(completion_tokens=100), max_tokens=100))
    assert isinstance(step, StopTasks) and step.reason is StopReason.MAX_TOKENS
