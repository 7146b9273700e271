"""Run one parsed call: look the tool up, bind its arguments, run it under a time limit,
and format what it returned. Every mistake of the model comes back as a `ToolCallError`
in the outcome; nothing the model writes makes this raise."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from agent.errors import ToolCallError, ToolFailed, ToolTimeout
from agent.frozen import quick_init
from agent.markup import ParsedCall
from agent.results import MAX_RESULT_CHARS, ToolOutput, format_result
from agent.settings import DEFAULTS
from agent.tools import Tool, Toolbox
from agent.workers import WORKERS, CallTimeout


@quick_init
@dataclass(frozen=True)
class ToolOutcome:
    result: str | None
    error: ToolCallError | None
    arguments: Mapping[str, Any] | None
    seconds: float
    content: tuple[Mapping[str, object], ...] = ()
    """Content beyond text the tool returned (`ToolOutput.content`)."""


class Dispatcher:
    """Runs tools for one agent. Sync tools run on the process's daemon worker threads
    (`agent.workers`; inline tools on the caller's), async tools on one event loop of the
    dispatcher's own; a tool past its time limit is abandoned (its thread never blocks the
    process from exiting)."""

    def __init__(self, toolbox: Toolbox, *, timeout: float = DEFAULTS.tool_timeout, max_result_chars: int = MAX_RESULT_CHARS) -> None:
        self.toolbox = toolbox
        self.timeout = timeout
        self.max_result_chars = max_result_chars
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def run(self, call: ParsedCall, *, timeout: float | None = None) -> ToolOutcome:
        started = time.perf_counter()
        arguments: dict[str, Any] | None = None
        try:
            tool = self.toolbox[call.name]
            arguments = tool.bind(call)
            limit = min(self.timeout if timeout is None else timeout, self.timeout if tool.timeout is None else tool.timeout)
            value = self._execute(tool, arguments, limit)
            content = value.content if isinstance(value, ToolOutput) else ()
            try:
                result = format_result(value.text if isinstance(value, ToolOutput) else value,
                                       max_chars=self.max_result_chars)
            except Exception as exc:  # a value that cannot be shown is the tool's failure
                raise ToolFailed(tool.name, exc) from exc
            return ToolOutcome(result, None, arguments, time.perf_counter() - started, content)
        except ToolCallError as exc:
            return ToolOutcome(None, exc, arguments, time.perf_counter() - started)

    def _execute(self, tool: Tool, arguments: dict[str, Any], limit: float) -> Any:
        future: Future[Any] | None = None
        try:
            if tool.inline:
                return tool.fn(**arguments)
            if tool.is_async:
                coroutine: Coroutine[Any, Any, Any] = tool.fn(**arguments)
                future = asyncio.run_coroutine_threadsafe(_outcome(coroutine), self._event_loop())
                done, value = future.result(timeout=max(limit, 0.0))
                if not done:
                    raise value
                return value
            return WORKERS.call(tool.fn, arguments, limit)
        except (FutureTimeout, CallTimeout):
            if future is not None:
                future.cancel()
            raise ToolTimeout(tool.name, limit) from None
        except ToolCallError:
            raise
        except (Exception, SystemExit) as exc:
            raise ToolFailed(tool.name, exc) from exc

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="interleaf-async-tools", daemon=True).start()
                self._loop = loop
            return self._loop

    def close(self) -> None:
        """Stop the event loop of async tools; a call still on it (the command was quit
        in the middle of it) is cancelled first, so it ends rather than being dropped."""
        with self._lock:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(_cancel_and_stop, self._loop)
                self._loop = None


async def _outcome(coroutine: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """The coroutine's value, or the exception it raised, as a value: a call whose caller
    stopped waiting (a timeout, a quit) then leaves no exception behind for asyncio to
    report as never retrieved. Cancelling it still cancels the coroutine."""
    try:
        return True, await coroutine
    except (Exception, SystemExit) as exc:
        return False, exc


def _cancel_and_stop(loop: asyncio.AbstractEventLoop) -> None:
    pending = asyncio.all_tasks(loop)
    if not pending:
        loop.stop()
        return
    for task in pending:
        task.cancel()
    asyncio.gather(*pending, return_exceptions=True).add_done_callback(lambda _: loop.stop())
