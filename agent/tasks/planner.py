"""The planning steps of an objective run: plan, create follow-up tasks, prioritise,
judge whether the objective is done, and write the final answer. Each asks the model
for a small JSON object under a schema, except the answer, which is free text. The
schema goes out in a form the model takes (`structured.Forms`, kept for the planner's
life); a reply in plain text is read leniently: list items as tasks, numbers as an
order, the first yes or no as a judgement."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agent.models.base import Model, Prompt, Request, Usage
from agent.tasks.state import Task
from agent.tasks.repetition import RepetitionGuard
from agent.tasks.similarity import NUMBERING
from agent.tasks.structured import Forms, Stops, Structured, ask_structured, guarded_stream

PLANNER_SYSTEM = (
    "You are a planner. You break an objective into a short list of concrete tasks that a "
    "worker with tools can each finish in one step. Reply with JSON only."
)
PLAN_USER = (
    "Objective: {objective}\n\nWrite at most {max_tasks} tasks, in the order they should be done, "
    'as {{"tasks": ["...", "..."]}}.'
)
CREATE_USER = (
    "Objective: {objective}\n\nThe last task was: {task}\nIts result: {result}\n\n"
    "Finished tasks:\n{done}\n\nTasks still to do:\n{pending}\n\n"
    "Propose at most {max_new} new tasks that are still needed to reach the objective and are not "
    'already listed. Reply {{"tasks": []}} if nothing more is needed, else {{"tasks": ["..."]}}.'
)
PRIORITISE_USER = (
    "Objective: {objective}\n\nTasks still to do, by number:\n{pending}\n\n"
    'Order them so the most useful task comes first. Reply as {{"order": [numbers]}}.'
)
JUDGE_USER = (
    "Objective: {objective}\n\nFinished tasks and their results:\n{done}\n\n"
    "Tasks still to do:\n{pending}\n\nIs the objective already reached with these results? "
    'Reply as {{"done": true or false, "reason": "..."}}.'
)
ANSWER_SYSTEM = "You write the final answer to an objective from the results of the tasks done for it."
ANSWER_USER = (
    "Objective: {objective}\n\nFinished tasks and their results:\n{done}\n\n"
    "Write the answer to the objective now (for a plan: the plan itself), in Markdown."
)


def tasks_schema(max_items: int, *, min_items: int = 0) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"tasks": {"type": "array", "items": {"type": "string", "minLength": 1},
                                 "minItems": min(min_items, max(max_items, 0)), "maxItems": max(max_items, 0)}},
        "required": ["tasks"],
    }


ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"order": {"type": "array", "items": {"type": "integer"}}},
    "required": ["order"],
}
JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"done": {"type": "boolean"}, "reason": {"type": "string"}},
    "required": ["done", "reason"],
}


@dataclass(frozen=True)
class Judgement:
    done: bool
    reason: str


def parse_tasks(data: Any, *, allow_empty: bool) -> list[str] | None:
    items = data.get("tasks") if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
        return None
    texts = [strip_numbering(t) for t in items if strip_numbering(t)]
    if not texts and not allow_empty:
        return None
    return texts


def strip_numbering(text: str) -> str:
    """`text` on one line without a leading "1.", "-" or "Task 2:"."""
    return NUMBERING.sub("", " ".join(text.split())).strip()


def tasks_in_text(text: str, *, allow_empty: bool) -> list[str] | None:
    """The list items of a plain-text reply ("1. …", "- …"), as tasks."""
    items = [strip_numbering(line).strip(' "\',[]') for line in text.splitlines() if NUMBERING.match(line)]
    items = [item for item in items if item]
    if items:
        return items
    return [] if allow_empty else None


_NUMBER = re.compile(r"\b\d+\b")
_VERDICT = re.compile(r"\b(true|false|yes|no)\b", re.IGNORECASE)


def order_in_text(text: str) -> list[int] | None:
    """The task numbers in a plain-text reply, in the order written."""
    numbers = [int(n) for n in _NUMBER.findall(text)]
    return numbers or None


def judgement_in_text(text: str) -> Judgement | None:
    """The first true/false or yes/no in a plain-text reply; the text is the reason."""
    found = _VERDICT.search(text)
    if found is None:
        return None
    return Judgement(found.group(1).casefold() in ("true", "yes"), reason_of(text))


def parse_order(data: Any) -> list[int] | None:
    items = data.get("order") if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
        return None
    return list(items)


def parse_judgement(data: Any) -> Judgement | None:
    if not isinstance(data, dict) or not isinstance(data.get("done"), bool):
        return None
    return Judgement(data["done"], reason_of(str(data.get("reason", ""))))


def reason_of(text: str) -> str:
    """`text` on one line as a judgement's reason, or "" when it gives none: nothing but
    punctuation ("...") or the verdict word itself."""
    text = " ".join(text.split())
    words = _VERDICT.sub("", text)
    return text if any(c.isalnum() for c in words) else ""


def listing(tasks: Sequence[Task]) -> str:
    return "\n".join(f"{t.id}. {t.text}" for t in tasks) or "(none)"


class Planning(Protocol):
    """What an objective run asks besides executing its tasks. `Planner` asks a model;
    tests and callers with their own planning pass another to `ObjectiveRunner`."""

    def plan(self, objective: str, *, max_tasks: int) -> Structured[list[str]]: ...

    def create(self, objective: str, *, task: Task, done: str, pending: Sequence[Task],
               max_new: int) -> Structured[list[str]]: ...

    def prioritise(self, objective: str, *, pending: Sequence[Task]) -> Structured[list[int]]: ...

    def judge(self, objective: str, *, done: str, pending: Sequence[Task]) -> Structured[Judgement]: ...

    def answer(self, objective: str, *, done: str, max_tokens: int, usage: Usage) -> Iterator[str]:
        """The final answer's text, streamed; what it cost is added to `usage`."""
        ...


class Planner:
    """The structured steps, on one model, with bounded retries and per-step tokens."""

    def __init__(self, model: Model, *, step_tokens: int, retries: int, cancel: threading.Event | None = None,
                 deadline: float | None = None) -> None:
        self.model = model
        self.step_tokens = step_tokens
        self.retries = retries
        self.cancel = cancel
        self.stops = Stops(cancel, deadline)
        """What cuts a structured step short: `cancel`, or the run's time budget running
        out at `deadline` (`time.monotonic()`); the answer is cut by `cancel` alone."""
        self.forms = Forms(model)
        """The structured-output forms still tried, best first; refused ones are dropped."""

    def plan(self, objective: str, *, max_tasks: int) -> Structured[list[str]]:
        user = PLAN_USER.format(objective=objective, max_tasks=max_tasks)
        return ask_structured(self.model, system=PLANNER_SYSTEM, user=user, schema=tasks_schema(max_tasks, min_items=1),
                              parse=lambda d: parse_tasks(d, allow_empty=False),
                              read_text=lambda t: tasks_in_text(t, allow_empty=False),
                              max_tokens=self.step_tokens, retries=self.retries, cancel=self.stops, forms=self.forms)

    def create(self, objective: str, *, task: Task, done: str, pending: Sequence[Task],
               max_new: int) -> Structured[list[str]]:
        user = CREATE_USER.format(objective=objective, task=task.text, result=task.result[:500] or "(nothing)",
                                  done=done or "(none)", pending=listing(pending), max_new=max_new)
        return ask_structured(self.model, system=PLANNER_SYSTEM, user=user, schema=tasks_schema(max_new),
                              parse=lambda d: parse_tasks(d, allow_empty=True),
                              read_text=lambda t: tasks_in_text(t, allow_empty=True),
                              max_tokens=self.step_tokens, retries=0, cancel=self.stops, forms=self.forms)

    def prioritise(self, objective: str, *, pending: Sequence[Task]) -> Structured[list[int]]:
        user = PRIORITISE_USER.format(objective=objective, pending=listing(pending))
        return ask_structured(self.model, system=PLANNER_SYSTEM, user=user, schema=ORDER_SCHEMA,
                              parse=parse_order, read_text=order_in_text, max_tokens=self.step_tokens, retries=0,
                              cancel=self.stops, forms=self.forms)

    def judge(self, objective: str, *, done: str, pending: Sequence[Task]) -> Structured[Judgement]:
        user = JUDGE_USER.format(objective=objective, done=done or "(none)", pending=listing(pending))
        return ask_structured(self.model, system=PLANNER_SYSTEM, user=user, schema=JUDGE_SCHEMA,
                              parse=parse_judgement, read_text=judgement_in_text, max_tokens=self.step_tokens,
                              retries=0, cancel=self.stops, forms=self.forms)

    def answer(self, objective: str, *, done: str, max_tokens: int, usage: Usage) -> Iterator[str]:
        """The final answer's text, streamed; what it cost is added to `usage`."""
        request = Request(prompt=Prompt(ANSWER_SYSTEM, ANSWER_USER.format(objective=objective, done=done)),
                          max_tokens=max_tokens, temperature=0.0)
        guard = RepetitionGuard()
        stream = guarded_stream(self.model, request, usage)
        try:
            for chunk in stream:
                yield chunk
                if guard.feed(chunk) or (self.cancel is not None and self.cancel.is_set()):
                    return
        finally:
            stream.close()


def reorder(pending: Sequence[Task], order: Sequence[int]) -> list[int]:
    """Pending ids in the model's `order`: unknown and repeated ids are ignored, ids the
    model left out keep their old order after the ones it named."""
    ids = [t.id for t in pending]
    chosen: list[int] = []
    for i in order:
        if i in ids and i not in chosen:
            chosen.append(i)
    return chosen + [i for i in ids if i not in chosen]


def plan_notice(attempts: int, *, parsed: bool, usable: bool) -> str:
    fallback = "falling back to the objective as the one task"
    if not parsed:
        return f"the planner's output was malformed {attempts} time(s); {fallback}"
    if not usable:
        return f"the planner proposed no usable task; {fallback}"
    return f"the planner's output was malformed {attempts - 1} time(s) before a retry parsed" if attempts > 1 else ""
