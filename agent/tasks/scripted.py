"""A planner without a model, for testing objective runs: the plan, new tasks, the
order, the judgement and the answer come from what you give it.

    planner = ScriptedPlanner(tasks=["book the flights", "find a hotel"], answer_text="Go.")
    runner = ObjectiveRunner(model=ScriptedModel([...]), store=store, planner=planner)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from agent.models.base import Usage
from agent.tasks.planner import Judgement
from agent.tasks.state import Task
from agent.tasks.structured import Structured

T = TypeVar("T")


@dataclass
class ScriptedPlanner:
    """Answers each planning step from its fields and counts the steps in `asked`
    (plan, create, prioritise, judge, answer). Each answer costs one request, one
    prompt token and a completion token per word."""

    tasks: Sequence[str] = ("the objective",)
    """The planned tasks."""
    new_tasks: Callable[[Task], list[str]] = lambda task: []
    """New tasks after the finished `task`."""
    reached: Callable[[], bool] = lambda: False
    """Whether the objective is reached (asked before creating tasks for an empty list)."""
    order: Callable[[list[int]], list[int]] | None = None
    """The pending task ids reordered; None keeps their order."""
    answer_text: str = "The answer."
    asked: Counter[str] = field(default_factory=Counter)

    def _reply(self, step: str, value: T, words: str) -> Structured[T]:
        self.asked[step] += 1
        return Structured(value=value, attempts=1, usage=_usage(words))

    def plan(self, objective: str, *, max_tasks: int) -> Structured[list[str]]:
        return self._reply("plan", list(self.tasks), " ".join(self.tasks))

    def create(self, objective: str, *, task: Task, done: str, pending: Sequence[Task],
               max_new: int) -> Structured[list[str]]:
        new = self.new_tasks(task)
        return self._reply("create", new, " ".join(new))

    def prioritise(self, objective: str, *, pending: Sequence[Task]) -> Structured[list[int]]:
        ids = [t.id for t in pending]
        return self._reply("prioritise", self.order(ids) if self.order else ids, "order")

    def judge(self, objective: str, *, done: str, pending: Sequence[Task]) -> Structured[Judgement]:
        return self._reply("judge", Judgement(self.reached(), "scripted"), "scripted")

    def answer(self, objective: str, *, done: str, max_tokens: int, usage: Usage) -> Iterator[str]:
        self.asked["answer"] += 1
        usage.add(_usage(self.answer_text))
        yield self.answer_text


def _usage(words: str) -> Usage:
    return Usage(prompt_tokens=1, evaluated_tokens=1, completion_tokens=max(1, len(words.split())), requests=1)
