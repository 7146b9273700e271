"""Asking the user before a tool call: the call shown with its code as code, the answer
read from stdin, and a Ctrl-C at the prompt taken at once as "no, and stop"."""

from __future__ import annotations

import os
import select
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import IO, Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.text import Text

from agent.cli.output import LiveOutput, Output
from agent.tasks import ApproveFn

termios: ModuleType | None
try:
    import termios
except ImportError:  # not on this platform: the prompt steps the view aside
    termios = None

QUESTION = "Run it?"
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
    """Asks whether a call may run: inside the live view when there is one and stdin is
    a terminal, else on `console` (stderr) with the view stepped aside; `--json` gets an
    `approval_requested` event first."""
    lock = threading.Lock()

    def approve(name: str, arguments: Mapping[str, Any]) -> bool:
        with lock:
            output.awaiting(name, arguments)
            shown = call_view(name, arguments)
            if isinstance(output, LiveOutput) and _terminal(sys.stdin):
                answer = ask_in_view(output, shown, sys.stdin.fileno(), cancel)
            else:
                answer = ask_on(console, output, shown, cancel)
        return answer is not None and answer.strip().casefold() in {"y", "yes"}

    return approve


def ask_on(console: Console, output: Output, shown: RenderableType, cancel: threading.Event) -> str | None:
    with output.paused():
        console.print(shown)
        console.print(f"[bold]{QUESTION}[/] \\[y/N] ", end="")
        answer = read_answer(sys.stdin, cancel)
        if answer is None:
            console.print()
            console.print("declined: stopping", style="yellow")
    return answer


def ask_in_view(output: LiveOutput, shown: RenderableType, fd: int, cancel: threading.Event) -> str | None:
    """The question as a panel of the live view; what the user types is shown there (the
    terminal's echo is off meanwhile). None once `cancel` is set."""
    typed = ""
    with _no_echo(fd):
        while not cancel.is_set():
            output.ask(Group(shown, Text.assemble((QUESTION, "bold"), " [y/N] ", typed)))
            ready, _, _ = select.select([fd], [], [], POLL_SECONDS)
            if not ready:
                continue
            char = os.read(fd, 1).decode("utf-8", errors="ignore")
            if char in ("\r", "\n", "\x04", ""):
                break
            typed = typed[:-1] if char in ("\x7f", "\b") else typed + (char if char.isprintable() else "")
    output.ask(None)
    return None if cancel.is_set() else typed


def _terminal(stream: IO[str]) -> bool:
    try:
        return termios is not None and stream.isatty()
    except (OSError, ValueError):
        return False


@contextmanager
def _no_echo(fd: int) -> Iterator[None]:
    """The terminal without echo and line buffering (Ctrl-C still signals)."""
    assert termios is not None
    before = termios.tcgetattr(fd)
    after = termios.tcgetattr(fd)
    after[3] &= ~(termios.ECHO | termios.ICANON)
    after[6][termios.VMIN], after[6][termios.VTIME] = 1, 0
    termios.tcsetattr(fd, termios.TCSADRAIN, after)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, before)
