"""Spot calls in streamed text as soon as they close.

`Detector.feed(chunk)` takes text split anywhere (a chunk may end inside `[Calc` or
between `-` and `>`) and returns events: plain text as early as it can be known not to
start a call, `Opened` when `[Name(` has been read, `Closed` when the call's `)` is
followed by the close marker or an arrow, and `Malformed` for a call to a known tool that
cannot be completed. Whatever the chunking, the events are the same (adjacent `Text`
events merged). Each character is examined once, except after a false start, where the
held text after the open marker is read again (bounded by `max_call_chars`).
"""

from __future__ import annotations

from collections.abc import Callable
import keyword
import re
import string
from dataclasses import dataclass
from enum import Enum, auto

from agent.markup import DEFAULT_MARKUP, Markup, ParsedCall

MAX_CALL_CHARS = 8_000
MAX_NAME_CHARS = 64
_PAIRS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = set(_PAIRS.values())
_SPACES = " \u00a0\u2009\u202f"
"""What may stand between a call's `)` and its close marker or arrow: spaces, no-break
and thin spaces."""
_STRING_PREFIXES = {"r", "b", "f", "u", "rb", "br", "fr", "rf"}
_IDENT_CHARS = string.ascii_letters + string.digits + "_"
_LOOK_BACK = 40
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME_REST = re.compile(r"[A-Za-z0-9_]*")
_ARGS_SPECIAL = re.compile(r"[()\[\]{}'\"]")
_SINGLE_QUOTED = {q: re.compile(rf"[\\\n{q}]") for q in "'\""}
_TRIPLE_QUOTED = {q: re.compile(rf"[\\{q}]") for q in "'\""}


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Opened:
    name: str
    text: str
    """The markup up to and including the opening parenthesis, e.g. `[Calculator(`."""


@dataclass(frozen=True)
class Closed:
    call: ParsedCall
    text: str
    """The markup as the model wrote it, up to and including the close marker or arrow."""


@dataclass(frozen=True)
class Malformed:
    name: str
    text: str
    reason: str


Event = Text | Opened | Closed | Malformed


class _State(Enum):
    MARKER = auto()
    NAME = auto()
    ARGS = auto()
    AFTER = auto()


class _NeedMore(Exception):
    """The held text ends where the next character decides what it is."""


_Outcome = tuple[str, str]
"""(plain text to emit, held text to read again from the start)."""


class Detector:
    def __init__(
        self, markup: Markup = DEFAULT_MARKUP, *, is_tool: Callable[[str], bool] | None = None,
        max_call_chars: int = MAX_CALL_CHARS,
    ) -> None:
        self.markup = markup
        self._open = markup.open.strip()
        self._ends = (markup.close.strip(), *(a.strip() for a in markup.arrows))
        self._is_tool = is_tool or (lambda _name: True)
        self._max = max_call_chars
        self.reset()

    def reset(self) -> None:
        """Forget anything held: the next chunk starts fresh."""
        self._buf = ""
        self._i = 0
        self._state = _State.MARKER
        self._name_start = 0
        self._args_start = 0
        self._args_end = 0
        self._stack: list[str] = []
        self._quote = ""

    @property
    def holding(self) -> bool:
        """Whether text is held back because it may be (part of) a call."""
        return bool(self._buf)

    def feed(self, chunk: str) -> list[Event]:
        if not self._buf and self._open not in chunk and not _partial_suffix(chunk, self._open):
            return [Text(chunk)] if chunk else []
        events: list[Event] = []
        self._run(chunk, events, final=False)
        return _merge(events)

    def finish(self, *, cut: bool = False) -> list[Event]:
        """End of the stream: whatever is held becomes text, a call or an error; with
        `cut` (the stream was cut off by a token limit) it stays text."""
        events: list[Event] = []
        if cut:
            events.append(Text(self._buf))
        else:
            self._run("", events, final=True)
        self.reset()
        return _merge(events)

    def _run(self, data: str, events: list[Event], *, final: bool) -> None:
        while data or (final and self._buf):
            if not self._buf:
                data = self._take_text(data, events)
                continue
            self._buf += data
            text, data = self._scan(events)
            if text:
                events.append(Text(text))
            if final and self._buf and not data:
                data = self._end_of_stream(events)

    def _take_text(self, data: str, events: list[Event]) -> str:
        start = data.find(self._open)
        if start < 0:
            start = len(data) - _partial_suffix(data, self._open)
        if start:
            events.append(Text(data[:start]))
        self._buf, self._i = data[start:], 0
        return ""

    def _scan(self, events: list[Event]) -> _Outcome:
        try:
            while self._i < len(self._buf):
                outcome = self._step(events)
                if outcome is not None:
                    return outcome
        except _NeedMore:
            pass
        return "", ""

    def _step(self, events: list[Event]) -> _Outcome | None:
        if self._state is _State.MARKER:
            return self._step_marker()
        if self._state is _State.NAME:
            return self._step_name(events)
        if self._state is _State.ARGS:
            return self._step_args(events)
        return self._step_after(events)

    def _char(self, offset: int = 0) -> str:
        j = self._i + offset
        if j >= len(self._buf):
            raise _NeedMore
        return self._buf[j]

    def _step_marker(self) -> _Outcome | None:
        if not self._buf.startswith(self._open):
            if self._open.startswith(self._buf):
                raise _NeedMore
            return self._abandon()
        self._i = len(self._open)
        if self._char() == " ":
            self._i += 1
        self._name_start = self._i
        self._state = _State.NAME
        return None

    def _step_name(self, events: list[Event]) -> _Outcome | None:
        self._char()
        pattern = _NAME if self._i == self._name_start else _NAME_REST
        match = pattern.match(self._buf, self._i)
        if match is None:
            return self._abandon()
        self._i = match.end()
        if self._i - self._name_start > MAX_NAME_CHARS:
            return self._abandon()
        if self._char() != "(":
            return self._abandon()
        events.append(Opened(self._buf[self._name_start : self._i], self._buf[: self._i + 1]))
        self._i += 1
        self._args_start = self._i
        self._state = _State.ARGS
        return None

    def _search(self, pattern: re.Pattern[str], events: list[Event]) -> re.Match[str] | _Outcome:
        """The next character that matters, within the call's length limit."""
        limit = self._max + len(self._open)
        match = pattern.search(self._buf, self._i, limit)
        if match is not None:
            self._i = match.start()
            return match
        if len(self._buf) >= limit:
            self._i = limit
            return self._give_up(events, f"the call is longer than {self._max} characters")
        self._i = len(self._buf)
        raise _NeedMore

    def _step_args(self, events: list[Event]) -> _Outcome | None:
        if self._quote:
            return self._step_string(events)
        match = self._search(_ARGS_SPECIAL, events)
        if not isinstance(match, re.Match):
            return match
        c = match.group()
        if c in "'\"" and self._opens_string():
            self._open_string(c)
            return None
        self._i += 1
        if c in _PAIRS:
            self._stack.append(_PAIRS[c])
        elif c in _CLOSERS:
            if self._stack and self._stack[-1] == c:
                self._stack.pop()
            elif not self._stack and c == ")":
                self._args_end = self._i - 1
                self._state = _State.AFTER
            else:
                expected = self._stack[-1] if self._stack else ")"
                return self._give_up(events, f"expected {expected!r} before {c!r}")
        return None

    def _opens_string(self) -> bool:
        """A quote starts a string where Python could have one, so that the apostrophe
        in a raw argument like `what's new` stays text."""
        before = self._buf[max(self._args_start, self._i - _LOOK_BACK) : self._i]
        word = before[len(before.rstrip(_IDENT_CHARS)) :]
        if word and word.lower() not in _STRING_PREFIXES:
            return False
        head = before[: len(before) - len(word)].rstrip(" ")
        if not head:
            return True
        last_word = head[len(head.rstrip(_IDENT_CHARS)) :]
        if last_word:
            return keyword.iskeyword(last_word)
        return head[-1] not in ")]}'\""

    def _open_string(self, q: str) -> None:
        if self._char(1) == q:
            if self._char(2) == q:
                self._quote = q * 3
                self._i += 3
            else:
                self._i += 2
            return
        self._quote = q
        self._i += 1

    def _step_string(self, events: list[Event]) -> _Outcome | None:
        pattern = _SINGLE_QUOTED if len(self._quote) == 1 else _TRIPLE_QUOTED
        match = self._search(pattern[self._quote[0]], events)
        if not isinstance(match, re.Match):
            return match
        c = match.group()
        if c == "\\":
            self._char(1)
            self._i += 2
        elif c == "\n" and len(self._quote) == 1:
            self._quote = ""
            self._i += 1
        elif self._buf.startswith(self._quote, self._i):
            self._i += len(self._quote)
            self._quote = ""
        elif len(self._quote) == 3 and self._quote.startswith(self._buf[self._i :]):
            raise _NeedMore
        else:
            self._i += 1
        return None

    def _step_after(self, events: list[Event]) -> _Outcome | None:
        rest = self._buf[self._i :]
        stripped = rest.lstrip(_SPACES)
        if len(rest) - len(stripped) > 2:
            return self._abandon()
        for end in self._ends:
            if stripped.startswith(end):
                return self._close_call(events, len(self._buf) - len(stripped) + len(end))
        if not stripped or any(end.startswith(stripped) for end in self._ends):
            raise _NeedMore
        return self._abandon()

    def _call_name(self) -> str:
        return self._buf[self._name_start : self._args_start - 1]

    def _close_call(self, events: list[Event], end: int) -> _Outcome:
        raw = self._buf[self._args_start : self._args_end]
        events.append(Closed(ParsedCall.of(self._call_name(), raw), self._buf[:end]))
        rest = self._buf[end:]
        self.reset()
        return "", rest

    def _give_up(self, events: list[Event], reason: str) -> _Outcome:
        if self._state is not _State.ARGS or not self._is_tool(self._call_name()):
            return self._abandon()
        events.append(Malformed(self._call_name(), self._buf[: self._i], reason))
        rest = self._buf[self._i :]
        self.reset()
        return "", rest

    def _abandon(self) -> _Outcome:
        """Not a call: the open marker is text, and what follows it is read again."""
        n = len(self._open) if self._buf.startswith(self._open) else len(self._buf)
        text, rest = self._buf[:n], self._buf[n:]
        self.reset()
        return text, rest

    def _end_of_stream(self, events: list[Event]) -> str:
        if self._state is _State.AFTER:
            rest = self._close_call(events, self._args_end + 1)[1]
            events.append(Text(rest))
            return ""
        if self._state is _State.ARGS and self._is_tool(self._call_name()):
            reason = f"the call was not closed with ')' and {self.markup.close.strip()!r}"
            events.append(Malformed(self._call_name(), self._buf, reason))
            self.reset()
            return ""
        text, rest = self._abandon()
        events.append(Text(text))
        return rest


def _partial_suffix(data: str, marker: str) -> int:
    """Length of the longest suffix of `data` that is a proper prefix of `marker`."""
    for n in range(min(len(marker) - 1, len(data)), 0, -1):
        if marker.startswith(data[-n:]):
            return n
    return 0


def _merge(events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for e in events:
        if isinstance(e, Text) and out and isinstance(out[-1], Text):
            out[-1] = Text(out[-1].text + e.text)
        elif not (isinstance(e, Text) and not e.text):
            out.append(e)
    return out
