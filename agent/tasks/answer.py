"""The final answer of a planned run, held to what ran: the model's written answer is
kept only while it names no task that did not run; otherwise, and when the model wrote
nothing usable, the answer is the tasks that ran with their results."""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.tasks.state import Task, TaskStatus
from agent.tasks.repetition import is_repeating, trim_repetition
from agent.tasks.similarity import normalise, similarity

NO_RESULTS = "No task finished with a result, so there is no answer."
NAMED_AT = 0.75
"""Similarity from which a line of the answer names a task."""
_PIECES = re.compile(r"[\n.;:!?]+")


def ran(tasks: Sequence[Task]) -> list[Task]:
    """The tasks that ran to the end with a result, in the order they ran."""
    return [t for t in tasks if t.status is TaskStatus.DONE and t.result.strip()]


def listed_answer(tasks: Sequence[Task]) -> str:
    """The tasks that ran and their results, one item each."""
    finished = ran(tasks)
    return "\n".join(f"- {t.text}: {t.result.strip()}" for t in finished) if finished else NO_RESULTS


def names_a_task_that_did_not_run(written: str, tasks: Sequence[Task]) -> bool:
    """Whether a piece of `written` (a line, a sentence or a clause) names a task that
    did not run to a result, more closely than any task that did."""
    done = [t.text for t in ran(tasks)]
    others = [t.text for t in tasks if t.text not in done]
    whole = f" {normalise(written)} "
    for task in others:
        words = normalise(task)
        if len(words.split()) >= 2 and f" {words} " in whole and not any(words in normalise(d) for d in done):
            return True
    for piece in _PIECES.split(written):
        if not normalise(piece):
            continue
        best_other = max((similarity(piece, t) for t in others), default=0.0)
        if best_other >= NAMED_AT and best_other > max((similarity(piece, d) for d in done), default=0.0):
            return True
    return False


def final_answer(written: str, tasks: Sequence[Task]) -> str:
    """The model's `written` answer (a repeating tail cut off) if it is held to what ran,
    else the tasks that ran and their results."""
    text = (trim_repetition(written) if is_repeating(written) else written).strip()
    if not text or not ran(tasks) or names_a_task_that_did_not_run(text, tasks):
        return listed_answer(tasks)
    return text
