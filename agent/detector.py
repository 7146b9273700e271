"""Spot calls in streamed text as soon as they close.

`Detector.feed(chunk)` takes text split anywhere (a chunk may end inside `[Calc` or
between `-` and `>`) and returns events: plain text as early as it can be known not to
start a call, `Opened` when `[Name(` has been read, `Closed` when the call's `)` is
followed by the close marker or an arrow, and `Malformed` for a call to a known tool that
cannot be completed. Whatever the chunking, the events are the same (adjacent `Text`
events merged).

The work is linear in the text. Each character is examined a bounded number of times: a
false start before the name's `(` is read again from after the open marker (at most the
marker, a space and a name's length), and a false start after it is text up to where it
failed, so a call written inside the arguments of a false start is text too. The held
text lives in a window that is compacted as it is read, never copied whole per chunk.
"""

from __future__ import annotations

from collections.abc import Callable
import re

from agent.detector_events import NOTHING, Closed, DetectorEvent, Events, Malformed, Opened, Text
from agent.detector_events import merge as _merge
from agent.detector_state import AFTER, ARGS, MAX_NAME_CHARS, NAME, NOT_NAME, TEXT, WINDOW, DetectorState
from agent.detector_syntax import (
    ARGS_SPECIAL, CLOSERS, PAIRS, SINGLE_QUOTED, SPACES, STOPS, TRIPLE_QUOTED, open_quote, opens_string, partial_suffix,
)
from agent.markup import DEFAULT_MARKUP, Markup, ParsedCall

__all__ = ["MAX_CALL_CHARS", "MAX_NAME_CHARS", "Closed", "Detector", "DetectorEvent", "Malformed", "Opened", "Text", "is_call_name"]

MAX_CALL_CHARS = 8_000


def is_call_name(name: str) -> bool:
    """Whether a call of a tool called `name` can be read: an ASCII identifier of at
    most `MAX_NAME_CHARS` characters."""
    return re.fullmatch(NAME, name) is not None


class Detector(DetectorState):
    __slots__ = ("_after_chars", "_is_tool", "_opening", "_viable", "_viable_chars", "_wide_open", "_end", "_steps")

    def __init__(
        self, markup: Markup = DEFAULT_MARKUP, *, is_tool: Callable[[str], bool] | None = None,
        max_call_chars: int = MAX_CALL_CHARS,
    ) -> None:
        super().__init__(markup, max_call_chars)
        self._after_chars = 3 + max(len(e) for e in self._ends)
        self._is_tool = is_tool or (lambda _name: True)
        marker = "(?:" + "|".join(re.escape(o) for o in markup.opens) + ")"
        self._opening = re.compile(rf"{marker} ?({NAME})\(")
        self._viable = re.compile(rf"{marker}(?: ?({NAME})| )?\Z")
        self._viable_chars = max(map(len, markup.opens)) + 1 + MAX_NAME_CHARS
        wide = markup.opens[1:]  # look-alike open markers (full-width), read as the open marker
        self._wide_open = wide[0] if wide else self._open
        """The full-width open marker (or the open marker again): a chunk without either
        (and, for a longer marker, not ending in its start) is plain text."""
        self._end = re.compile("|".join(re.escape(e) for e in self._ends))
        """The close markers and arrows, tried in order."""
        self._steps = (self._step_text, self._step_args, self._step_after)

    def feed(self, chunk: str) -> Events:
        """The events `chunk` decides: a new list, or `NOTHING` (shared: a caller keeps
        what it is given as it is)."""
        buf = self._buf
        if not buf:
            text = self._plain_chars.get(chunk)
            if text is not None:  # a character that is text
                self._work += 1
                return [text]
        elif self._room and chunk in self._takes:
            self._room -= 1  # more of a held name or of the arguments, or a space after them
            self._buf = buf + chunk
            return NOTHING
        elif self._room >= len(chunk) and self._takes.issuperset(chunk):
            self._room -= len(chunk)  # the same, several characters at once
            self._buf = buf + chunk
            return NOTHING
        elif self._armed:  # what _fold does, inline: this runs per character
            taken = self._armed - self._room
            if taken:
                self._work += taken
                self._i += taken
            self._room = self._armed = 0
        if len(chunk) == 1 and self._one_char:
            self._work += 1
            if not buf:
                return self._first_char(chunk)
            read = self._reads[self._state](buf, chunk)
            if read is not None:
                return read
        else:
            self._work += len(chunk)
        if not buf:
            if self._open not in chunk and self._wide_open not in chunk and (
                    self._one_char or not partial_suffix(chunk, self._open)):
                return [Text(chunk)] if chunk else NOTHING
            held = self._hold(chunk)
            if held is not None:
                return held
            self._buf = chunk
        elif (stop := None if self._calm is None else self._calm.search(chunk)) is not None:
            read = self._decided(buf, chunk, stop)
            if read is not None:
                return read
            self._buf = buf = buf + chunk
            if self._state == TEXT:
                held = self._hold(buf)
                if held is not None:
                    return held
        elif self._calm is not None and len(buf) + len(chunk) <= self._limit:
            self._buf = buf = buf + chunk  # more of a name, or of arguments: nothing to decide
            self._i = len(buf)
            if len(buf) - self._start > WINDOW:
                self._compact()
                self._settle()
            elif self._state == ARGS:
                self._seen(chunk)  # the next chunks of characters seen are taken above
            return NOTHING
        else:
            buf += chunk
            if self._state == TEXT:
                held = self._hold(buf)
                if held is not None:
                    return held
            self._buf = buf
        events: list[DetectorEvent] = []
        self._scan(events)
        self._compact()
        self._settle()
        if not events:
            return NOTHING
        return events if len(events) < 2 else _merge(events)  # every event here has text

    def _decided(self, buf: str, chunk: str, stop: re.Match[str]) -> Events | None:
        """A chunk whose first character that matters (`stop`) plainly opens the
        arguments (`(` after a held name) or ends them (`)`, no bracket open, at the
        chunk's end or followed by just the close marker): its events, read without a
        scan; None for any other chunk."""
        at, n, c = stop.start(), len(buf), stop.group()
        if self._calm is NOT_NAME:
            if c != "(" or n + at > self._limit or n + len(chunk) >= self._args_limit:
                return None
            opened = self._open_char(buf + chunk[: at + 1])
            if at + 1 == len(chunk):
                return opened
            self._work -= len(chunk) - at - 1  # the rest is counted as it is fed
            return [*opened, *self.feed(chunk[at + 1 :])]
        if self._calm is not ARGS_SPECIAL or c != ")" or self._stack or n + at >= self._limit:
            return None
        if at + 1 == len(chunk):  # what follows the `)` decides
            self._buf = buf + chunk
            self._args_end, self._i, self._state, self._calm = n + at, n + at + 1, AFTER, None
            return NOTHING
        if chunk[at + 1 :] != self._ends[0]:
            return None
        self._work += 1
        self._args_end = n + at
        return self._closed_by(buf + chunk)

    def _closed_by(self, buf: str) -> list[DetectorEvent]:
        """`buf` ends in the close marker after the arguments' `)` (at `_args_end`) and
        at most two spaces: the call."""
        self._buf = buf
        events: list[DetectorEvent] = []
        self._close_call(events, len(buf))
        self._compact()
        self._settle()
        return events

    def finish(self, *, cut: bool = False) -> list[DetectorEvent]:
        """End of the stream: whatever is held becomes text, a call or an error; with
        `cut` (the stream was cut off by a token limit) it stays text."""
        events: list[DetectorEvent] = []
        self._fold()
        if cut:
            self._flush(events)
            events.append(Text(self._text(self._start, len(self._buf))))
        else:
            self._run(events, final=True)
        self.reset()
        return _merge(events)

    def _hold(self, buf: str) -> Events | None:
        """What may start a call, held at the start of the window, and more text: the
        events, or None when the window holds `[Name(` and more."""
        found = self._opening.search(buf)
        if found is not None:
            if found.start() or found.end() < len(buf) or len(buf) >= self._args_limit or self._start or self._held:
                return None
            self._name_start = found.start(1)  # `[Name(` and nothing else: the arguments begin
            return self._open_char(buf)
        n = len(buf)
        self._work += n
        tail = self._viable.search(buf, n - self._viable_chars if n > self._viable_chars else 0)
        if tail is not None:
            hold = tail.start()
            name = -1 if tail.lastindex is None else tail.start(1) - hold
        else:
            hold, name = n - (0 if self._one_char else partial_suffix(buf, self._open)), -1
        self._buf = buf[hold:] if hold else buf
        self._i = n - hold
        self._name_start = name
        if name >= 0:  # what _settle decides for held text: more of the name is taken whole
            self._calm, self._limit = NOT_NAME, name + MAX_NAME_CHARS
        else:
            self._calm = None
        return [Text(buf[:hold])] if hold else NOTHING

    def _settle(self) -> None:
        """What the next chunk must not contain for it to be taken whole, without a
        step: a name's end, or a bracket or quote in the arguments (the closing quote,
        a backslash or a line's end inside a string)."""
        self._calm, self._stops = None, ""
        if self._i != len(self._buf):
            return
        if self._state == ARGS:
            quote = self._quote
            strings = SINGLE_QUOTED if len(quote) == 1 else TRIPLE_QUOTED
            self._calm = strings[quote[0]] if quote else ARGS_SPECIAL
            self._stops = STOPS[self._calm]
            self._limit = self._start + self._args_limit
        elif self._state == TEXT and self._name_start >= 0:
            self._calm, self._limit = NOT_NAME, self._name_start + MAX_NAME_CHARS

    def _run(self, events: list[DetectorEvent], *, final: bool) -> None:
        while self._scan(events) and final:
            self._end_of_stream(events)

    def _scan(self, events: list[DetectorEvent]) -> bool:
        """Read as far as the window allows; True when the held text needs more to decide."""
        steps = self._steps
        while self._start < len(self._buf):
            self._work += 1
            if not steps[self._state](events):
                self._flush(events)
                return True
        self._flush(events)
        return False

    def _flush(self, events: list[DetectorEvent]) -> None:
        """Emit the plain text read so far."""
        if self._start > self._plain:
            events.append(Text(self._buf[self._plain : self._start]))
            self._plain = self._start

    def _step_text(self, events: list[DetectorEvent]) -> bool:
        """Plain text up to the next `[Name(`, which opens the arguments; at the end of
        the window, hold what may still become one (`[`, `[ `, `[Calc`)."""
        buf, start = self._buf, self._start
        found = self._opening.search(buf, start)
        if found is None:
            tail = self._viable.search(buf, max(start, len(buf) - self._viable_chars))
            hold = tail.start() if tail else len(buf) - partial_suffix(buf, self._open)
            self._start, self._i = max(start, hold), len(buf)
            self._name_start = tail.start(1) if tail and tail.group(1) else -1
            self._work += len(buf) - start
            return self._start == len(buf)
        self._work += found.end() - start
        self._start = at = found.start()
        if at > self._plain:
            events.append(Text(buf[self._plain : at]))
            self._plain = at
        self._name_start = found.start(1)
        opened = self._opened_event(found.group(), self._name_start - at)
        self._name = opened.name
        events.append(opened)
        self._i = self._args_start = found.end()
        self._state = ARGS
        return self._step_args(events)

    def _search(self, pattern: re.Pattern[str], events: list[DetectorEvent]) -> re.Match[str] | bool:
        """The next character that matters, within the call's length limit."""
        limit = self._start + self._args_limit
        match = pattern.search(self._buf, self._i, limit)
        end = match.start() if match is not None else min(limit, len(self._buf))
        self._work += end - self._i
        self._i = end
        if match is not None:
            return match
        if len(self._buf) >= limit:
            return self._give_up(events, f"the call is longer than {self._max} characters")
        return False

    def _step_args(self, events: list[DetectorEvent]) -> bool:
        if self._quote:
            return self._step_string(events)
        match = self._search(ARGS_SPECIAL, events)
        if not isinstance(match, re.Match):
            return match
        c = match.group()
        if c in "'\"" and opens_string(self._buf, self._args_start, self._i):
            return self._open_string()
        self._i += 1
        if c in PAIRS:
            self._stack.append(PAIRS[c])
        elif c in CLOSERS:
            if self._stack and self._stack[-1] == c:
                self._stack.pop()
            elif not self._stack and c == ")":
                self._args_end = self._i - 1
                self._state = AFTER
                return self._step_after(events)
            else:
                expected = self._stack[-1] if self._stack else ")"
                return self._give_up(events, f"expected {expected!r} before {c!r}")
        return True

    def _open_string(self) -> bool:
        opened = open_quote(self._buf, self._i)
        if opened is None:
            return False
        self._quote, read = opened
        self._i += read
        return True

    def _step_string(self, events: list[DetectorEvent]) -> bool:
        pattern = SINGLE_QUOTED if len(self._quote) == 1 else TRIPLE_QUOTED
        match = self._search(pattern[self._quote[0]], events)
        if not isinstance(match, re.Match):
            return match
        c, buf, i = match.group(), self._buf, self._i
        if c == "\\":
            if i + 1 >= len(buf):
                return False
            self._i += 2
        elif c == "\n" and len(self._quote) == 1:
            self._quote = ""
            self._i += 1
        elif buf.startswith(self._quote, i):
            self._i += len(self._quote)
            self._quote = ""
        elif len(buf) - i < 3 and self._quote.startswith(buf[i:]):
            return False
        else:
            self._i += 1
        return True

    def _step_after(self, events: list[DetectorEvent]) -> bool:
        i = self._args_end + 1
        window = self._buf[i : i + self._after_chars]
        stripped = window.lstrip(SPACES)
        spaces = len(window) - len(stripped)
        self._work += len(window)
        if spaces > 2 or (stripped and stripped[0] not in self._end_initials):
            return self._false_start(events, i)
        end = self._end.match(stripped)
        if end is not None:
            return self._close_call(events, i + spaces + end.end())
        if not stripped or any(end.startswith(stripped) for end in self._ends):
            return False
        return self._false_start(events, i)

    def _close_call(self, events: list[DetectorEvent], end: int) -> bool:
        raw = self._text(self._args_start, self._args_end)
        self._flush(events)
        events.append(Closed(ParsedCall.of(self._name, raw), self._text(self._start, end)))
        self._clear_call(end)
        return True

    def _give_up(self, events: list[DetectorEvent], reason: str) -> bool:
        """The arguments cannot be completed: an error for a tool, else text."""
        if not self._is_tool(self._name):
            return self._false_start(events, self._i)
        self._flush(events)
        events.append(Malformed(self._name, self._text(self._start, self._i), reason))
        self._clear_call(self._i)
        return True

    def _false_start(self, events: list[DetectorEvent], resume: int) -> bool:
        """Not a call: the held text up to `resume` is text, and reading goes on there."""
        plain = self._plain
        if self._start < 0:
            events.append(Text(self._text(self._start, resume)))
            plain = resume
        self._clear_call(resume)
        self._plain = plain
        return True

    def _end_of_stream(self, events: list[DetectorEvent]) -> None:
        state = self._state
        if state == AFTER:
            self._close_call(events, self._args_end + 1)
        elif state == ARGS and self._is_tool(self._name):
            reason = f"the call was not closed with ')' and {self.markup.close.strip()!r}"
            self._flush(events)
            events.append(Malformed(self._name, self._text(self._start, len(self._buf)), reason))
            self._clear_call(len(self._buf))
        else:
            self._false_start(events, len(self._buf))
