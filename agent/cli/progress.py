"""The progress bar of work spread over workers (`agent batch`, `agent eval --workers`):
items ended of all, how many done and failed, and the throughput. Drawn on a terminal only."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class ItemsProgress:
    def __init__(self, console: Console, total: int, label: str = "batch") -> None:
        columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("done {task.fields[done]}"),
                   TextColumn("failed {task.fields[failed]}"), TextColumn("{task.fields[rate]}"),
                   TimeElapsedColumn())
        self.console = console
        self.done = self.failed = 0
        self._started = time.monotonic()
        # Lines printed to stdout go above the bar only when stdout is the same kind of
        # place: redirected to a file, they stay there.
        self._bar = Progress(*columns, console=console, disable=not console.is_terminal,
                             redirect_stdout=_is_terminal(sys.stdout))
        self._task: TaskID = self._bar.add_task(label, total=total, done=0, failed=0, rate="")

    def __enter__(self) -> ItemsProgress:
        self._bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._bar.stop()

    def ended(self, ok: bool) -> None:
        self.done, self.failed = self.done + ok, self.failed + (not ok)
        rate = (self.done + self.failed) / max(1e-9, time.monotonic() - self._started) * 60
        self._bar.update(self._task, advance=1, done=self.done, failed=self.failed, rate=f"{rate:.1f} items/min")

    def say(self, text: str) -> None:
        """A line above the bar (or on its own, off a terminal)."""
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False
