"""The `Python` tool: model-written code run in a sandboxed, persistent interpreter.

`python` is the default tool; `python_tool(...)` builds one with other options; `Sandbox`
is the interpreter on its own. See `tools.python.sandbox` for how the code is isolated.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import replace

from agent import Tool, ToolError, tool
from tools.python.limits import SandboxLimits
from tools.python.mounts import package_entries
from tools.python.sandbox import (
    STARTUP_TIMEOUT,
    ExecResult,
    Sandbox,
    SandboxUnavailable,
    UnisolatedWarning,
    isolation_problem,
)

__all__ = [
    "ExecResult", "SandboxLimits", "Sandbox", "SandboxUnavailable", "UnisolatedWarning",
    "isolation_problem", "python", "python_tool",
]

DEFAULT_PACKAGES = ("numpy", "sympy")
"""Offered by the default tool, those of them that are installed."""

EXAMPLES = (
    "The 10th Fibonacci number is [Python(a, b = 0, 1\nfor _ in range(10): a, b = b, a + b\na)"
    " → 55] 55.",
    "There are [Python(import datetime\n(datetime.date(2024, 12, 25) - datetime.date(2024, 1, 1)).days)"
    " → 359] 359 days from New Year's Day to Christmas in 2024.",
    "Sorted, the words are [Python(words = 'pear fig apple'.split()\nprint(*sorted(words)))"
    " → apple fig pear] apple, fig and pear.",
)


def _installed(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(n for n in names if importlib.util.find_spec(n) is not None)


def _description(packages: Sequence[str]) -> str:
    offered = ", ".join(packages) if packages else "nothing beyond it"
    return (
        "Runs Python code in a sandbox and shows what it prints, then the value of a final "
        "expression, like a notebook cell. Variables, imports and functions stay for the "
        "next call. There is no network. The standard library is available, and besides "
        f"it: {offered}. Files can be written in the current folder."
    )


def python_tool(
    *, timeout: float | None = None, packages: Sequence[str] | None = None,
    workdir: str | os.PathLike[str] | None = None, unisolated: bool = False,
    limits: SandboxLimits | None = None, name: str = "Python",
) -> Tool:
    """A `Python` tool with its own sandbox.

    Args:
        timeout: wall-clock seconds per call (overrides `limits.timeout`).
        packages: installed distributions the code may import, read-only; None offers
            numpy and sympy where installed.
        workdir: a folder to bind read-write as the code's working directory; None gives
            each sandbox a private one in memory.
        unisolated: run without isolation where it is not available. Unsafe: every call
            warns.
        limits: resource limits; see `SandboxLimits`.
        name: the tool's name.
    """
    if packages is None:
        chosen = _installed(DEFAULT_PACKAGES)
    else:
        chosen = tuple(packages)
        package_entries(chosen)  # an unknown name is a ConfigError now, not at the first call
    limits = limits or SandboxLimits()
    if timeout is not None:
        limits = replace(limits, timeout=timeout)
    sandbox = Sandbox(limits=limits, packages=chosen, workdir=workdir, unisolated=unisolated)

    async def run(code: str) -> str:
        """Run Python code; the state persists between calls.

        Args:
            code: the code; the value of a final expression is shown.
        """
        try:
            result = await _in_thread(lambda: sandbox.run(code))
        except asyncio.CancelledError:  # the caller's time limit ended the call: stop it
            sandbox.interrupt()
            raise
        except SandboxUnavailable as exc:
            raise ToolError(str(exc)) from exc
        if result.failed:  # the code raised, or the call did not finish: a failed call
            raise ToolError(result.text())
        return result.text()

    return tool(
        name=name, description=_description(chosen), examples=EXAMPLES,
        timeout=limits.timeout + STARTUP_TIMEOUT + 5, reset=sandbox.close,
    )(run)


async def _in_thread(fn: Callable[[], ExecResult]) -> ExecResult:
    """`fn()` on a daemon thread of its own, awaited; cancelling the wait leaves the
    thread to finish on its own (the sandbox is interrupted so it does so at once)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[ExecResult] = loop.create_future()

    def settle(outcome: ExecResult | BaseException) -> None:
        if done.done():
            return
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)

    def work() -> None:
        try:
            outcome: ExecResult | BaseException = fn()
        except BaseException as exc:  # handed to the awaiting task
            outcome = exc
        with suppress(RuntimeError):  # the loop may be closed by now
            loop.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=work, name="interleaf-python", daemon=True).start()
    return await done


python = python_tool()
