"""Scripted objective runs. `ObjectiveScript.runner` injects an `agent.tasks.ScriptedPlanner`
that answers the planning steps from the script's functions, with a model that only
executes tasks. `ObjectiveScript.model` is one model for the whole run, for the model-backed
`Planner` (its prompts, schemas and parsing) and for the CLI: it tells the planner's
steps apart by their schema. Both count what they were asked.

`make_model` is a factory for the CLI's `python:MODULE:FACTORY` model specs; it reads
`INTERLEAF_TEST_LOG` (a file that gets one line per task execution) and
`INTERLEAF_TEST_DELAY` (seconds each task takes), `INTERLEAF_TEST_PLAN_DELAY` (seconds
before each chunk of the plan), `INTERLEAF_TEST_CALL` (a call each
task's text makes, e.g. `[Calendar()]`), `INTERLEAF_TEST_GATE` (a file whose existence a
task waits for after its call, at most a minute), `INTERLEAF_TEST_CARRY` (what a task
writes after its call) and `INTERLEAF_TEST_ANSWER` (the final answer the model writes)."""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from agent.models.base import Capabilities, Completion, Request
from agent.tasks import ObjectiveRunner, ObjectiveStore, ScriptedPlanner, Task
from agent.tasks.planner import ANSWER_SYSTEM
from agent.testing import FunctionModel

Reply = Callable[[str], str]
JSON_SCHEMA = Capabilities(structured=("json_schema",))
"""A model that takes a JSON schema, as the planner's steps are told apart by theirs."""
_TASK = re.compile(r"Your task: (.*)")


def step_of(request: Request) -> str:
    """plan, create, prioritise, judge, answer or task."""
    schema = request.response_schema
    if schema is not None:
        props = schema.get("properties", {})
        if "order" in props:
            return "prioritise"
        if "done" in props:
            return "judge"
        return "plan" if props["tasks"].get("minItems", 0) > 0 else "create"
    if request.prompt.system == ANSWER_SYSTEM:
        return "answer"
    return "task"


def task_of(request: Request) -> str:
    """The task a request executes: the line after "Your task:", or in single mode
    the whole question."""
    found = _TASK.search(request.prompt.user)
    return found.group(1).strip() if found else request.prompt.user.strip()


@dataclass
class ObjectiveScript:
    plan: list[str] | Callable[[Request], str] = field(default_factory=lambda: ["first task", "second task"])
    """The planned tasks, or (for the model-backed planner only) the raw reply to each plan request."""
    create: Callable[[Task], list[str]] = lambda task: []
    """New tasks after `task`."""
    judge: Callable[[], bool] = lambda: False
    """Whether the objective is reached."""
    order: Callable[[list[int]], list[int]] | None = None
    """The pending task ids, reordered; None keeps their order."""
    execute: Callable[[str], str] = lambda task: f"Result of {task}."
    answer: str = "The final answer."
    reason: str = "checked"
    """The reason the done-check gives."""
    carry_on: str | Callable[[], str] = " Done."
    """The reply once a task's text already holds a completed call."""
    asked: Counter[str] = field(default_factory=Counter)
    executed: list[str] = field(default_factory=list)

    def __call__(self, request: Request) -> str:
        step = step_of(request)
        self.asked[step] += 1
        if step == "plan":
            return self.plan(request) if callable(self.plan) else json.dumps({"tasks": self.plan})
        if step == "create":
            return json.dumps({"tasks": self.create(_last_task(request))})
        if step == "judge":
            return json.dumps({"done": self.judge(), "reason": self.reason})
        if step == "prioritise":
            ids = [int(m) for m in re.findall(r"^(\d+)\. ", request.prompt.user, re.MULTILINE)]
            return json.dumps({"order": self.order(ids) if self.order else ids})
        if step == "answer":
            return self.answer
        task = task_of(request)
        if request.prompt.assistant:
            return self.carry_on() if callable(self.carry_on) else self.carry_on
        self.executed.append(task)
        return self.execute(task)

    def model(self, *, chunk_size: int = 8) -> FunctionModel:
        return FunctionModel(self, chunk_size=chunk_size, name="scripted-objective", capabilities=JSON_SCHEMA)

    def runner(self, store: ObjectiveStore, *, model: FunctionModel | None = None, **options: Any) -> ObjectiveRunner:
        """A runner whose planning steps come from this script and whose tasks run on
        `model` (by default this script's model, which then only executes tasks)."""
        return ObjectiveRunner(model=model or self.model(), store=store, planner=self.planner(), **options)

    def planner(self) -> ScriptedPlanner:
        """The script's planning steps without a model, counted in `asked`."""
        if callable(self.plan):
            raise TypeError("a scripted planner plans from a list of tasks")
        return ScriptedPlanner(tasks=self.plan, new_tasks=self.create, reached=self.judge, order=self.order,
                               answer_text=self.answer, asked=self.asked)


def _last_task(request: Request) -> Task:
    """The task a creation request follows."""
    found = re.search(r"The last task was: (.*)", request.prompt.user)
    return Task(id=0, text=found.group(1) if found else "", position=0)


def make_model() -> FunctionModel:
    """Plans four tasks, proposes one more after each, and takes a while per task."""
    log = os.environ.get("INTERLEAF_TEST_LOG", "")
    delay = float(os.environ.get("INTERLEAF_TEST_DELAY", "0"))
    proposed = Counter[str]()

    call = os.environ.get("INTERLEAF_TEST_CALL", "")

    def execute(task: str) -> str:
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write(task + "\n")
                f.flush()
                os.fsync(f.fileno())
        time.sleep(delay)
        return f"Result of {task}: {call}" if call else f"Result of {task}."

    def create(task: Task) -> list[str]:
        proposed["n"] += 1
        return [f"extra task number {proposed['n']} about {chr(96 + proposed['n']) * 5}"]

    gate = os.environ.get("INTERLEAF_TEST_GATE", "")

    def carry_on() -> str:
        waited = 0.0
        while gate and not os.path.exists(gate) and waited < 60:
            time.sleep(0.05)
            waited += 0.05
        return os.environ.get("INTERLEAF_TEST_CARRY", " Done.")

    script = ObjectiveScript(plan=["book the flights", "find a hotel", "list the museums", "pack the bags"],
                             create=create, execute=execute, carry_on=carry_on,
                             answer=os.environ.get("INTERLEAF_TEST_ANSWER", "The final answer."))
    plan_delay = float(os.environ.get("INTERLEAF_TEST_PLAN_DELAY", "0"))
    return SlowPlanModel(script, plan_delay) if plan_delay else script.model()


class SlowPlanModel(FunctionModel):
    """The script's model, whose plan comes a chunk every `delay` seconds."""

    def __init__(self, script: ObjectiveScript, delay: float) -> None:
        super().__init__(script, chunk_size=8, name="scripted-objective", capabilities=JSON_SCHEMA)
        self.delay = delay

    def stream(self, request: Request, completion: Completion) -> Iterator[str]:
        chunks = super().stream(request, completion)
        return self.slowly(chunks) if step_of(request) == "plan" else chunks

    def slowly(self, chunks: Iterator[str]) -> Iterator[str]:
        for chunk in chunks:
            time.sleep(self.delay)
            yield chunk


def make_broken_model() -> FunctionModel:
    """A model whose backend is down."""

    def fail(request: Request) -> str:
        raise ConnectionError("the server is down")

    return FunctionModel(fail, name="broken")


def make_silent_model() -> FunctionModel:
    """Plans two tasks, each of which writes nothing."""
    return ObjectiveScript(plan=["book the flights", "find a hotel"], execute=lambda task: "").model()
