"""Stop sequences over streamed text: the stop text never leaks, even when it arrives
split across chunks, because a tail that could still grow into a stop is held back."""

from __future__ import annotations

from collections.abc import Iterable


class StopMatcher:
    """Feed streamed text in; get back what is safe to emit and the stop that matched."""

    def __init__(self, stops: Iterable[str]) -> None:
        self.stops: tuple[str, ...] = tuple(s for s in stops if s)
        self._pending = ""

    def feed(self, text: str) -> tuple[str, str | None]:
        """Add `text`; return (text safe to emit, matched stop or None). The stop that
        completes first wins (the one starting first, if several end together); the text
        from it on is dropped and nothing more should be fed."""
        if not self.stops:
            return text, None
        pending = self._pending + text
        found, matched = -1, None
        for stop in self.stops:
            at = pending.find(stop)
            if at == -1:
                continue
            if matched is None or (at + len(stop), at) < (found + len(matched), found):
                found, matched = at, stop
        if matched is not None:
            self._pending = ""
            return pending[:found], matched
        hold = self._held_length(pending)
        self._pending = pending[len(pending) - hold :]
        return pending[: len(pending) - hold], None

    def flush(self) -> str:
        """The held-back tail, once the stream has ended without a match."""
        pending, self._pending = self._pending, ""
        return pending

    def _held_length(self, text: str) -> int:
        hold = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(text)), hold, -1):
                if text.endswith(stop[:size]):
                    hold = size
                    break
        return hold
