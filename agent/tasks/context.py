"""Compact, bounded text of finished tasks for the prompts of later steps: the most
recent results in (cut) full, older ones as their task alone, the whole within a limit."""

from __future__ import annotations

from collections.abc import Sequence

from agent.tasks.state import Task, TaskStatus

RECENT = 3
RESULT_CHARS = 400


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def results_context(tasks: Sequence[Task], *, max_chars: int, recent: int = RECENT,
                    result_chars: int = RESULT_CHARS) -> str:
    """Finished tasks (done or failed), oldest first, as numbered lines. Only the last
    `recent` carry their result; lines are dropped from the oldest on past `max_chars`."""
    finished = [t for t in tasks if t.status in (TaskStatus.DONE, TaskStatus.FAILED)]
    lines: list[str] = []
    for n, task in enumerate(finished):
        is_recent = n >= len(finished) - recent
        if task.status is TaskStatus.FAILED:
            outcome = f"failed: {clip(task.detail, 120)}"
        elif is_recent:
            outcome = clip(task.result, result_chars) or "(no result)"
        else:
            outcome = clip(task.result, 80) or "(no result)"
        lines.append(f"{task.id}. {clip(task.text, 160)} → {outcome}")
    while lines and sum(len(line) + 1 for line in lines) > max_chars:
        if len(lines) == 1:
            return clip(lines[0], max_chars)
        lines.pop(0)
    return "\n".join(lines)


def task_prompt(objective: str, task: Task, context: str) -> str:
    """What the agent executing `task` is asked."""
    parts = [f"Objective: {objective}"]
    if context:
        parts.append(f"Finished tasks and their results:\n{context}")
    parts.append(f"Your task: {task.text}")
    parts.append("Do this task now and write its result in a few sentences.")
    return "\n\n".join(parts)
