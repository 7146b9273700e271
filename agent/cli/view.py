"""The live view's state, built from the runner's events, and its rendering."""

from __future__ import annotations

import time
from dataclasses import replace

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.spinner import Spinner
from rich.text import Text

from agent.cli.render import call_text, footer, record_text, tail, tasks_table
from agent.events import CallFinished, CallStarted, RunFinished, TextDelta
from agent.tasks.events import (
    AnswerDelta, Judged, Notice, ObjectiveEvent, ObjectiveFinished, ObjectiveStarted, TaskFinished, TaskOutput,
    TasksCreated, TasksPlanned, TasksReordered, TaskStarted,
)
from agent.tasks.state import Task, TaskStatus, Totals

STREAM_LINES = 12


class RunView:
    """Everything the live view shows; `handle` each event, then `render`."""

    def __init__(self, *, model: str = "", clock: float | None = None) -> None:
        self.run_id = ""
        self.objective = ""
        self.model = model
        self.tasks: dict[int, Task] = {}
        self.running: int | None = None
        self.stream = Text()
        self.pending_call: Text | None = None
        self.notes: list[str] = []
        self.totals = Totals()
        self.earlier = 0.0
        self.live_tokens = 0
        self.answer = ""
        self.finished: ObjectiveFinished | None = None
        self.started = time.monotonic() if clock is None else clock
        self.spinner = Spinner("dots", style="yellow")
        self.stopping = ""
        self.question: RenderableType | None = None
        """An approval the user is asked for, shown above the footer."""
        """Shown above the footer once the user asked the run to stop."""

    def handle(self, event: ObjectiveEvent) -> None:
        if isinstance(event, ObjectiveStarted):
            self.run_id, self.objective, self.model = event.run_id, event.objective, event.model
            self.tasks = {t.id: t for t in event.tasks}
            self.totals, self.earlier = event.totals, event.totals.seconds
        elif isinstance(event, (TasksPlanned, TasksCreated)):
            self.tasks.update({t.id: t for t in event.tasks})
        elif isinstance(event, TaskStarted):
            self.tasks[event.task.id] = event.task
            self.running, self.stream, self.pending_call, self.live_tokens = event.task.id, Text(), None, 0
        elif isinstance(event, TaskOutput):
            self.handle_output(event)
        elif isinstance(event, TaskFinished):
            self.tasks[event.task.id] = event.task
            self.totals, self.running, self.live_tokens = event.totals, None, 0
        elif isinstance(event, TasksReordered):
            for n, task_id in enumerate(event.order):
                if task_id in self.tasks:
                    self.tasks[task_id] = replace(self.tasks[task_id], position=10_000 + n)
        elif isinstance(event, Judged):
            self.notes.append(f"done? {'yes' if event.done else 'no'}: {event.reason}")
        elif isinstance(event, Notice):
            self.notes.append(event.message)
        elif isinstance(event, AnswerDelta):
            self.answer += event.text
            self.live_tokens += 1
        elif isinstance(event, ObjectiveFinished):
            if self.running in self.tasks:
                self.tasks[self.running] = replace(self.tasks[self.running], status=TaskStatus.PENDING)
            self.finished, self.totals, self.running = event, event.totals, None
            self.answer = event.answer or self.answer

    def handle_output(self, event: TaskOutput) -> None:
        inner = event.event
        if isinstance(inner, TextDelta):
            self.stream.append(inner.text)
            self.live_tokens += 1
        elif isinstance(inner, CallStarted):
            self.pending_call = call_text(inner.call.name, inner.call.raw, pending=True)
        elif isinstance(inner, CallFinished):
            self.pending_call = None
            self.stream.append_text(record_text(inner.record))
        elif isinstance(inner, RunFinished):
            self.pending_call = None

    def ordered_tasks(self) -> list[Task]:
        return sorted(self.tasks.values(), key=lambda t: (t.status is TaskStatus.PENDING, t.position, t.id))

    def render(self, *, now: float | None = None) -> RenderableType:
        elapsed = (time.monotonic() if now is None else now) - self.started
        parts: list[RenderableType] = [Text(f"Objective: {self.objective}", style="bold")]
        parts.append(tasks_table(self.ordered_tasks(), spinner=self.spinner))
        if self.running is not None:
            body = self.stream.copy()
            if self.pending_call is not None:
                body.append_text(self.pending_call)
            task = self.tasks.get(self.running)
            parts.append(Panel(tail(body, STREAM_LINES), title=f"Task {self.running}: {task.text if task else ''}",
                               title_align="left", border_style="yellow"))
        if self.notes:
            parts.append(Text(self.notes[-1], style="dim italic"))
        if self.answer and self.finished is None:
            parts.append(Panel(tail(Text(self.answer), STREAM_LINES), title="Answer", title_align="left",
                               border_style="green"))
        if self.question is not None:
            parts.append(Panel(self.question, title="Approval", title_align="left", border_style="magenta"))
        if self.stopping and self.finished is None:
            parts.append(Text(self.stopping, style="bold yellow"))
        shown = self.finished.totals.seconds if self.finished else self.earlier + elapsed
        parts.append(footer(self.model, self.totals, elapsed=shown, extra_tokens=self.live_tokens))
        return Group(*parts)
