"""Spot a model that has fallen into a loop (small models at temperature 0 often do):
the last stretch of its text has already appeared several times."""

from __future__ import annotations

from dataclasses import replace

from agent.events import RunResult, StopReason
from agent.parts import head, rendered

WINDOW = 48
TIMES = 3


class RepetitionGuard:
    """Feed streamed text; `repeating` turns true once the last `window` characters
    occur `times` times in the text."""

    def __init__(self, *, window: int = WINDOW, times: int = TIMES, every: int = 16) -> None:
        self.window = window
        self.times = times
        self.every = every
        self.text = ""
        self._checked = 0
        self.repeating = False

    def feed(self, chunk: str) -> bool:
        self.text += chunk
        if not self.repeating and len(self.text) - self._checked >= self.every:
            self._checked = len(self.text)
            self.repeating = is_repeating(self.text, window=self.window, times=self.times)
        return self.repeating


def is_repeating(text: str, *, window: int = WINDOW, times: int = TIMES) -> bool:
    """The last `window` characters occur `times` times, or the last `times` lines
    (with a few characters each) are the same line."""
    complete = text[: text.rfind("\n") + 1]
    lines = [line.strip() for line in complete.splitlines() if line.strip()]
    if len(lines) >= times:
        last = lines[-times:]
        if len(last[0]) >= 4 and all(line == last[0] for line in last):
            return True
    if len(text) < window * times:
        return False
    tail = text[-window:]
    return not tail.isspace() and text.count(tail) >= times


def trim_repetition(text: str, *, window: int = WINDOW) -> str:
    """`text` cut after the first time its repeating tail (or line) appears."""
    lines = text.rstrip().splitlines()
    if len(lines) >= 2 and lines[-1].strip() and lines[-1].strip() == lines[-2].strip():
        first = next(i for i, line in enumerate(lines) if line.strip() == lines[-1].strip())
        return "\n".join(lines[: first + 1]).rstrip()
    if len(text) < window:
        return text
    tail = text[-window:]
    first = text.find(tail)
    return text if first < 0 else text[: first + window].rstrip()


def cut_repetition(result: RunResult) -> RunResult:
    """A task's run that fell into a loop, cut after the first time its repeating tail
    appears (its parts with it: a call is kept only whole)."""
    kept = head(result.parts, len(trim_repetition(result.text)))
    return replace(result, text=rendered(kept), parts=kept, stop_reason=StopReason.NO_PROGRESS,
                   detail="the model started repeating itself")
