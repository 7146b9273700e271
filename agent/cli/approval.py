"""Asking the user before a tool call: the call shown with its code as code, the answer
read from stdin, and a Ctrl-C at the prompt taken at once as "no, and stop"."""

from __future__ import annotations

import select
import sys
import threading
from collections.abc import Mapping
from typing import IO, Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.text import Text

from agent.cli.output import Output
from agent.tasks import ApproveFn

CODE_ARGUMENTS = frozenset({"code", "source", "script"})
POLL_SECONDS = 0.1


def call_view(name: str, arguments: Mapping[str, Any]) -> RenderableType:
    """The call a user is asked about: short arguments inline, code below as code."""
    code = {k: v for k, v in arguments.items() if isinstance(v, str) and (k in CODE_ARGUMENTS or "\n" in v)}
    inline = ", ".join(f"{k}={v!r}" for k, v in arguments.items() if k not in code)
    head = Text.from_markup(f"[bold]Allow[/] [cyan]{escape(name)}({escape(inline)})[/]")
    if not code:
        return head
    from rich.syntax import Syntax  # pygments loads only when a call shows code

    parts: list[RenderableType] = [head]
    for key, value in code.items():
        parts.append(Text(f"{key}:", style="dim"))
        lexer = "python" if key in CODE_ARGUMENTS else "text"
        parts.append(Syntax(value, lexer, line_numbers=value.count("\n") > 2, word_wrap=True))
    return Group(*parts)


def read_answer(stream: IO[str], cancel: threading.Event) -> str | None:
    """A line from `stream` ("" once it ends), or None as soon as `cancel` is set (Ctrl-C
    at the prompt). A stream that cannot be polled is read as it is."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        fd = -1
    while fd >= 0 and not cancel.is_set():
        try:
            ready, _, _ = select.select([fd], [], [], POLL_SECONDS)
        except (OSError, ValueError):
            break
        if ready:
            break
    if cancel.is_set():
        return None
    try:
        line = stream.readline()
    except (OSError, ValueError):
        return ""
    return line


def prompt_approval(console: Console, output: Output, cancel: threading.Event) -> ApproveFn:
    """Asks on `console` (stderr) whether a call may run; the view steps aside while it
    asks, and `--json` gets an `approval_requested` event first."""
    lock = threading.Lock()

    def approve(name: str, arguments: Mapping[str, Any]) -> bool:
        with lock, output.paused():
            output.awaiting(name, arguments)
            console.print(call_view(name, arguments))
            console.print("[bold]Run it?[/] \\[y/N] ", end="")
            answer = read_answer(sys.stdin, cancel)
            if answer is None:
                console.print()
                console.print("declined: stopping", style="yellow")
        return answer is not None and answer.strip().casefold() in {"y", "yes"}

    return approve
