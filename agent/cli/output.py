"""Where a run's events go: a live view, plain lines, JSON Lines, or only the answer."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import IO, Any, Protocol, Self

from rich.console import Console, RenderableType
from rich.live import Live
from rich.markdown import Markdown

from agent.cli.view import RunView
from agent.events import CallFinished
from agent.tasks.context import clip
from agent.tasks.events import (
    Judged, Notice, ObjectiveEvent, ObjectiveFinished, ObjectiveStarted, TaskFinished, TaskOutput, TasksCreated,
    TasksPlanned, TasksReordered, TaskStarted, to_json,
)
from agent.tasks.state import ObjectiveStatus

STOPPING = "stopping… the run is saved as soon as the current step ends (Ctrl-C again to quit at once)"


class Output(Protocol):
    def __enter__(self) -> Self: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def handle(self, event: ObjectiveEvent) -> None: ...

    def paused(self) -> AbstractContextManager[None]: ...

    def stopping(self) -> None:
        """The user asked the run to stop (the first Ctrl-C); say so at once."""

    def awaiting(self, name: str, arguments: Mapping[str, Any]) -> None:
        """A call waits for the user's approval."""


class _Base:
    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    @contextmanager
    def paused(self) -> Iterator[None]:
        yield

    def stopping(self) -> None:
        # Called from a signal handler: os.write cannot re-enter a write stderr is in.
        line = f"{STOPPING}\n"
        try:
            os.write(sys.stderr.fileno(), line.encode("utf-8", "replace"))
        except (OSError, ValueError, AttributeError):
            sys.stderr.write(line)

    def awaiting(self, name: str, arguments: Mapping[str, Any]) -> None:
        return None


class LiveOutput(_Base):
    """A rich Live view: tasks, the running task's text, a footer; the answer as Markdown."""

    def __init__(self, console: Console, *, refresh_per_second: float = 8) -> None:
        self.console = console
        self.view = RunView()
        self.live = Live(console=console, get_renderable=self.view.render,
                         refresh_per_second=refresh_per_second, transient=False)

    def __enter__(self) -> Self:
        self.live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.live.stop()
        finished = self.view.finished
        if finished is None or finished.status is ObjectiveStatus.INTERRUPTED:
            return
        if finished.answer and finished.status is ObjectiveStatus.FINISHED:
            self.console.rule("Answer", align="left")
            self.console.print(Markdown(finished.answer))
        self.console.print(f"{finished.stop_reason.value}: {finished.detail} · run {finished.run_id}",
                           style="dim", markup=False)

    def handle(self, event: ObjectiveEvent) -> None:
        self.view.handle(event)

    def stopping(self) -> None:
        # Called from a signal handler: the next refresh (at most 1/refresh_per_second away)
        # shows it; refreshing here could re-enter a render the main thread is in.
        self.view.stopping = STOPPING

    def ask(self, question: RenderableType | None) -> None:
        """Show `question` in the view (None takes it away)."""
        self.view.question = question
        self.live.refresh()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Take the view off the screen (for a prompt) and bring it back after."""
        overflow = self.live.vertical_overflow
        self.live.transient = True
        self.live.stop()
        self.live.transient, self.live.vertical_overflow = False, overflow
        try:
            yield
        finally:
            self.live.start()


class PlainOutput(_Base):
    """One line per step, for logs and pipes."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout

    def write(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def handle(self, event: ObjectiveEvent) -> None:
        for line in plain_lines(event):
            self.write(line)


def plain_lines(event: ObjectiveEvent) -> list[str]:
    if isinstance(event, ObjectiveStarted):
        again = ", resumed" if event.resumed else ""
        return [f"run {event.run_id}: {event.objective} (model {event.model}{again})"]
    if isinstance(event, Notice):
        return [f"note: {event.message}"]
    if isinstance(event, TasksPlanned):
        return ["plan:", *(f"  {t.id}. {t.text}" for t in event.tasks)]
    if isinstance(event, TaskStarted):
        return [f"task {event.task.id} started: {event.task.text}"]
    if isinstance(event, TaskOutput) and isinstance(event.event, CallFinished):
        return [f"  {clip(event.event.record.text, 300)}"]
    if isinstance(event, TaskFinished):
        return [f"task {event.task.id} {event.task.status.value}: {clip(event.task.result, 300)}"]
    if isinstance(event, Judged):
        return [f"done? {'yes' if event.done else 'no'}: {event.reason}"]
    if isinstance(event, TasksCreated):
        added = "; ".join(f"{t.id}. {t.text}" for t in event.tasks)
        return [f"new tasks: {added}" if added else "no new tasks"]
    if isinstance(event, TasksReordered):
        return [f"order: {', '.join(str(i) for i in event.order)}"]
    if isinstance(event, ObjectiveFinished):
        return finished_lines(event)
    return []


def finished_lines(event: ObjectiveFinished) -> list[str]:
    t = event.totals
    lines = ["answer:", event.answer] if event.answer and event.status is ObjectiveStatus.FINISHED else []
    lines.append(f"stopped: {event.stop_reason.value} ({event.detail}); {t.tasks_run} tasks, "
                 f"{t.prompt_tokens + t.completion_tokens} tokens, {t.tool_calls} calls, {t.seconds:.1f} s")
    return lines


class JsonOutput(_Base):
    """Every event as one JSON object per line."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout

    def handle(self, event: ObjectiveEvent) -> None:
        self.write(to_json(event))

    def write(self, data: dict[str, Any]) -> None:
        self.out.write(json.dumps(data, ensure_ascii=False) + "\n")
        self.out.flush()

    def awaiting(self, name: str, arguments: Mapping[str, Any]) -> None:
        self.write({"type": "approval_requested", "tool": name, "arguments": dict(arguments)})


class QuietOutput(_Base):
    """Only the final answer."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout

    def handle(self, event: ObjectiveEvent) -> None:
        if isinstance(event, ObjectiveFinished) and event.answer and event.status is ObjectiveStatus.FINISHED:
            self.out.write(event.answer.rstrip() + "\n")
            self.out.flush()
