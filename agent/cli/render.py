"""Rich renderables for the CLI: task tables, call highlighting, footers, listings."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from agent.tasks.state import ObjectiveRecord, ObjectiveStatus, Task, TaskStatus, Totals, written

if TYPE_CHECKING:
    from rich.spinner import Spinner

    from agent.events import CallRecord
    from agent.parts import Part
    from agent.tools import Tool

STATUS_STYLE = {
    TaskStatus.PENDING: "dim", TaskStatus.RUNNING: "bold yellow",
    TaskStatus.DONE: "green", TaskStatus.FAILED: "bold red", TaskStatus.CUT_OFF: "yellow",
}
STATUS_MARK = {TaskStatus.PENDING: "·", TaskStatus.DONE: "✓", TaskStatus.FAILED: "✗", TaskStatus.CUT_OFF: "…"}


def tasks_table(tasks: Sequence[Task], *, spinner: Spinner | None = None, title: str | None = "Tasks",
                halted: bool = False) -> Table:
    """The tasks, a row each; in a `halted` run (its process ended) a task left running
    reads as stopped, as it runs again from its start on resume."""
    table = Table(title=title, title_justify="left", expand=True, show_edge=False, pad_edge=False)
    table.add_column("#", justify="right", width=3)
    table.add_column("", width=2)
    table.add_column("Task", ratio=1)
    table.add_column("Status", width=9)
    for task in tasks:
        style = STATUS_STYLE[task.status]
        mark: RenderableType
        if task.status is TaskStatus.RUNNING and spinner is not None:
            mark = spinner
        else:
            mark = Text(STATUS_MARK.get(task.status, "▸"), style=style)
        shown = task.status.value
        if halted and task.status is TaskStatus.RUNNING:
            mark, shown, style = Text(STATUS_MARK[TaskStatus.CUT_OFF], style="yellow"), "stopped", "yellow"
        table.add_row(str(task.id), mark, Text(task.text, style="" if task.status is TaskStatus.PENDING else style),
                      Text(shown, style=style))
    return table


def call_text(name: str, raw: str, *, result: str | None = None, error: str | None = None,
              pending: bool = False) -> Text:
    """A call as it stands in the text: `[Name(raw) → result]`, highlighted."""
    text = Text("[", style="cyan")
    text.append(name, style="bold cyan")
    text.append(f"({raw})", style="cyan")
    if pending:
        text.append(" …", style="yellow")
    elif error is not None:
        text.append(" → ", style="cyan")
        text.append(f"Error: {error}", style="bold red")
    else:
        text.append(" → ", style="cyan")
        text.append(result or "", style="bold green")
    text.append("]", style="cyan")
    return text


def highlight_calls(parts: Iterable[Part]) -> Text:
    """The parts with each call `[Name(args) → result]` highlighted."""
    from agent.parts import Spliced

    out = Text()
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, Spliced):
            out.append(part.text, style="green")
        elif part.error is not None:
            out.append_text(call_text(part.name, part.raw, error=part.error))
        else:
            out.append_text(call_text(part.name, part.raw, result=part.result, pending=part.result is None))
    return out


def record_text(record: CallRecord) -> Text:
    return call_text(record.name, record.raw, result=record.result, error=record.error)


def tail(text: Text, lines: int) -> Text:
    """The last `lines` lines of `text`."""
    plain = text.plain
    cut = len(plain)
    for _ in range(lines):
        cut = plain.rfind("\n", 0, cut)
        if cut < 0:
            return text
    return text[cut + 1 :]


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}:{secs:02d}" if minutes < 60 else f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def footer(model: str, totals: Totals, *, elapsed: float, extra_tokens: int = 0, extra_calls: int = 0) -> Text:
    """The run's totals, with the tokens and calls counted since they were saved."""
    tokens = totals.prompt_tokens + totals.completion_tokens + extra_tokens
    parts = [f"model {model}", f"tokens {tokens:,} ({totals.completion_tokens + extra_tokens:,} out)",
             f"calls {totals.tool_calls + extra_calls}", f"tasks {totals.tasks_run}",
             f"elapsed {format_seconds(elapsed)}"]
    if totals.cost:
        parts.append(f"${totals.cost:.4f}")
    return Text("  ·  ".join(parts), style="dim")


def judged_line(done: bool, reason: str) -> str:
    """The done-check's verdict, with its reason when it gave one."""
    verdict = f"done? {'yes' if done else 'no'}"
    return f"{verdict}: {reason}" if reason.strip() else verdict


def answer_view(answer: str) -> RenderableType:
    from rich.markdown import Markdown  # markdown-it loads only for a run that has an answer

    return Group(Text("Answer", style="bold"), Markdown(answer))


def stop_text(run: ObjectiveRecord) -> str:
    """Why a run stopped: its stop reason, "error" for a failed run."""
    if run.stop_reason is not None:
        return run.stop_reason.value
    return "error" if run.status is ObjectiveStatus.FAILED else ""


RUN_COLUMNS = ("Run", "Status", "Stop", "Tasks", "Started", "Model", "Objective")
WIDE = 110
"""Terminal columns from which `agent runs` shows each run's model."""


def run_rows(runs: Iterable[ObjectiveRecord], counts: dict[str, tuple[int, int]]) -> list[tuple[str, ...]]:
    """One row of `RUN_COLUMNS` per run; an objective's line breaks become spaces."""
    rows: list[tuple[str, ...]] = []
    for run in runs:
        done, total = counts.get(run.id, (0, 0))
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created))
        rows.append((run.id, run.status.value, stop_text(run), f"{done}/{total}", started, run.model,
                     " ".join(run.objective.split())))
    return rows


def runs_table(rows: Sequence[tuple[str, ...]], *, width: int) -> Table:
    """The runs for a terminal `width` columns wide: every column but the model and the
    objective is whole; below `WIDE` columns the model is left out and the date shortened;
    the objective takes the rest, at least 24 columns, cut with an ellipsis."""
    wide = width >= WIDE
    shown = [n for n, name in enumerate(RUN_COLUMNS) if name != "Model" or wide]
    cells = [[row[n] if RUN_COLUMNS[n] != "Started" or wide else row[n][5:] for n in shown] for row in rows]
    widths = [max([len(RUN_COLUMNS[n]), *(len(c[i]) for c in cells)]) for i, n in enumerate(shown)]
    if wide:
        widths[-2] = min(widths[-2], 24)
    widths[-1] = min(widths[-1], max(24, width - sum(widths[:-1]) - 2 * len(widths)))
    table = Table(box=None, padding=(0, 2, 0, 0), expand=False, show_edge=False, header_style="bold")
    for n, column_width in zip(shown, widths):
        table.add_column(RUN_COLUMNS[n], width=column_width, no_wrap=True, overflow="ellipsis")
    for row_cells in cells:
        table.add_row(*row_cells)
    return table


def task_line(task: Task) -> Text:
    """What a task wrote, after its number, calls highlighted."""
    return Text(f"{task.id}. ", style="bold").append_text(highlight_calls(written(task)))


def run_detail(run: ObjectiveRecord, tasks: Sequence[Task]) -> RenderableType:
    head = Text(f"Run {run.id}", style="bold")
    head.append(f"  {run.status.value}")
    stop = stop_text(run)
    if stop or run.detail:
        head.append(f" ({': '.join(part for part in (stop, run.detail) if part)})", style="dim")
    table = tasks_table(tasks, title=None, halted=run.status is not ObjectiveStatus.RUNNING)
    parts: list[RenderableType] = [head, Text(f"Objective: {run.objective}"), table]
    for task in tasks:
        if task.result:
            parts.append(task_line(task))
    if run.answer:
        parts.append(answer_view(run.answer))
    t = run.totals
    parts.append(footer(run.model, t, elapsed=t.seconds))
    return Group(*parts)


def tools_table(tools: Iterable[Tool]) -> Table:
    table = Table(show_edge=False)
    table.add_column("Tool", style="bold cyan")
    table.add_column("Signature", no_wrap=True)
    table.add_column("Description", overflow="fold")
    for tool in tools:
        table.add_row(tool.name, tool.signature(), tool.description)
    return table
