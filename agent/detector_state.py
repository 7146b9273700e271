"""The detector's state, and the reads of a one-character chunk that change it without a
scan.

A model that streams a character at a time gives the detector a chunk per character.
When the open markers are one character each (`[` and `［`), what one character does is
plain in most states: with nothing held it is text or a held marker; after a held `[`,
`[ ` or `[Name` it extends the name, opens the arguments or turns the held text into
text; in the arguments it is more of them or the `)` that ends them; after that `)` it is
a space or a false start. Anything else (a close marker, an arrow, a bracket or quote in
the arguments, a name at its length limit, a full window) is left to the scan, which gives
the same events at the same feed.

A run of characters that are more of a held name, or of the arguments, is the common
case and the cheapest: `feed` takes each against a room counted down (`_room`), with
neither a read nor a count, and what the room took is counted when it ends (`_fold`).
"""

from __future__ import annotations

from collections.abc import Callable
import re
import string

from agent.detector_events import NOTHING, Events, Opened, Text
from agent.detector_syntax import ARGS_SPECIAL, SPACES, STOPS
from agent.markup import Markup

__all__ = ["AFTER", "ARGS", "MAX_NAME_CHARS", "NAME", "NOT_NAME", "TEXT", "WINDOW", "DetectorState"]

MAX_NAME_CHARS = 64
NAME = rf"[A-Za-z_][A-Za-z0-9_]{{0,{MAX_NAME_CHARS - 1}}}"
NOT_NAME = re.compile(r"[^A-Za-z0-9_]")
WINDOW = 512
"""Scanned held text past which the window is compacted."""
_KEEP = 64
"""Characters kept in the window before the scan position when held text is moved out."""
_NAME_START = string.ascii_letters + "_"
_NAME_CHARS = _NAME_START + string.digits
_NAME_SET = frozenset(_NAME_CHARS)
_KEPT_EVENTS = 256
"""Distinct short `Text` events a detector keeps to hand out again (they are frozen)."""
_KEPT_CHARS = 80
"""The longest text such an event may hold."""
_ARGS_STOPS = STOPS[ARGS_SPECIAL]
_KEPT_TAKEN = 1024
"""Distinct characters a detector keeps as taken whole in the arguments, for each kind
of stops."""

# What the held text is being read as: text (perhaps the start of `[Name(`), a call's
# arguments, or what follows the arguments' `)`.
TEXT, ARGS, AFTER = range(3)


class DetectorState:
    __slots__ = (  # CPython 3.11 shares the keys of at most 30 attributes: past that, each access is slower
        "markup", "_open", "_opens", "_one_char", "_ends", "_end_initials", "_after_takes", "_max", "_args_limit", "_args_room",
        "_plain_chars", "_texts", "_opened", "_reads", "_work", "_room", "_armed", "_takes", "_taken",
        "_buf", "_start", "_plain", "_held", "_stack", "_name", "_args_start", "_args_end", "_limit", "_stops", "_i",
        "_state", "_name_start", "_calm", "_quote",
    )

    def __init__(self, markup: Markup, max_call_chars: int) -> None:
        self.markup = markup
        self._open = markup.open.strip()
        self._opens = "".join(markup.opens)
        """The open markers with their look-alikes (full-width)."""
        self._one_char = len(self._opens) == len(markup.opens)
        """Whether each open marker is one character: one-character chunks have reads of their own."""
        self._ends = (*markup.closes, *(a.strip() for a in markup.arrows))
        self._end_initials = {e[0] for e in self._ends}
        self._after_takes = frozenset(SPACES) - self._end_initials - set(self._opens)
        """Spaces a room takes after a call's `)`."""
        self._max = max_call_chars
        self._args_limit = max_call_chars + len(self._open)
        """Where a call that began at the window's start reaches its length limit."""
        self._args_room = min(self._args_limit, WINDOW)
        """Where the room for such a call's arguments ends."""
        self._plain_chars: dict[str, Text] = {}
        """Characters that are text when nothing is held, as their event."""
        self._texts: dict[str, Text] = {}
        """Held text that a character turned into text, as its event."""
        self._opened: dict[str, Opened] = {}
        """`[Name(` read, as its event."""
        self._reads: tuple[Callable[[str, str], Events | None], ...] = (
            self._text_char, self._args_char, self._after_char)
        """What a character does after held text, by state."""
        self._work = 0
        """What `work` counts, less the characters taken whole since the room was made."""
        self._room = self._armed = 0
        """One-character chunks in `_takes` that may still be taken whole (more of a held
        name, of the arguments, or spaces after them, within their limits), out of the
        `_armed` there were when the room was made; those taken are not yet in `_i` and
        `_work` (`_fold` adds them: after the arguments, `_i` is not read). Any other
        chunk ends the room."""
        self._takes: set[str] | frozenset[str] = _NAME_SET
        self._taken: dict[str, set[str]] = {stops: set() for stops in STOPS.values()}
        """Characters seen in the arguments, by the stops they are not among: in a
        room, they are taken whole."""
        self.reset()

    @property
    def work(self) -> int:
        """Characters examined plus scanning steps taken, over the detector's life: what
        tests bound per character of input. A character taken whole counts one."""
        return self._work + self._armed - self._room

    def reset(self) -> None:
        """Forget anything held: the next chunk starts fresh."""
        self._work += self._armed - self._room
        self._room = self._armed = 0
        self._buf = ""
        """The window: held text from `_start` on (after some already-read context)."""
        self._start = 0
        """Where the held text begins in the window; negative when it begins in `_held`."""
        self._plain = 0
        """Where text that is known to be plain begins, up to `_start`: emitted in one piece."""
        self._held: list[str] = []
        """Held text of a long call that was moved out of the window, in order."""
        self._stack: list[str] = []
        """The closing brackets the arguments still need, innermost last."""
        self._name = ""
        self._args_start = self._args_end = self._limit = 0
        self._stops = ""
        """What `_calm` matches in the arguments, for a chunk of one character."""
        self._clear_call(0)

    def _clear_call(self, start: int) -> None:
        """Read text from `start` on. What only a held name or call uses (`_name`,
        `_args_start`, `_args_end`, `_limit`, `_stops`) is set where one begins."""
        if self._held:
            self._held = []
        if self._stack:
            self._stack = []
        self._plain = self._start = self._i = start
        self._state = TEXT
        self._name_start = -1
        self._calm: re.Pattern[str] | None = None
        """A chunk without a match of this (and within `_limit`) is taken whole."""
        self._quote = ""

    def _arm(self) -> None:
        """Make the room after `_calm` and `_limit` are set, the window read to its end."""
        if self._one_char and self._calm is not None:
            end = self._limit
            if self._state == TEXT:
                self._takes = _NAME_SET
            else:
                self._takes = self._taken[self._stops]
                if end > self._start + WINDOW:
                    end = self._start + WINDOW
            room = end - len(self._buf)
            self._room = self._armed = room if room > 0 else 0

    def _seen(self, chunk: str) -> None:
        """`chunk` was taken as more of the arguments: from here on, characters seen in
        them are taken whole (within the room this makes)."""
        taken = self._taken[self._stops]
        if len(taken) < _KEPT_TAKEN:
            taken.update(chunk)
        self._arm()

    def _fold(self) -> None:
        """End the room: the characters taken whole are read."""
        taken = self._armed - self._room
        self._work += taken
        self._i += taken
        self._room = self._armed = 0

    @property
    def holding(self) -> bool:
        """Whether text is held back because it may be (part of) a call."""
        return self._start < len(self._buf)

    def _text(self, a: int, b: int) -> str:
        """The held text between window positions `a` and `b` (`a` < 0: from `_held`)."""
        if a >= 0:
            return self._buf[a:b]
        held = "".join(self._held)
        self._held = [held]
        return held[len(held) + a : len(held) + min(b, 0)] + self._buf[: max(b, 0)]

    def _compact(self) -> None:
        """Drop emitted text from the window, and move long held arguments out of it."""
        start, i = self._start, self._i
        if self._state in (ARGS, AFTER) and i - max(start, 0) > WINDOW:
            cut = i - _KEEP
            self._held.append(self._buf[max(start, 0) : cut])
        elif start > 0:
            cut = start
        else:
            return
        self._buf = self._buf[cut:]
        self._start -= cut
        self._plain -= cut
        self._i -= cut
        self._name_start -= cut
        self._args_start -= cut
        self._args_end -= cut

    def _first_char(self, c: str) -> Events:
        """`c` with nothing held: an open marker is held, any other character is text."""
        if c in self._opens:  # nothing held: no name, no call, nothing calm
            self._buf, self._i = c, 1
            return NOTHING
        text = Text(c)
        if len(self._plain_chars) < _KEPT_EVENTS:
            self._plain_chars[c] = text
        return [text]

    def _text_char(self, buf: str, c: str) -> Events | None:
        """`c` after a held `[`, `[ `, `[Name` or `[ Name`."""
        name = self._name_start
        if name < 0:
            if c in _NAME_START:  # a name begins, its room made as _arm makes it
                n = len(buf)
                self._name_start, self._buf, self._i = n, buf + c, n + 1
                self._calm, self._limit = NOT_NAME, n + MAX_NAME_CHARS
                self._room = self._armed = MAX_NAME_CHARS - 1
                self._takes = _NAME_SET
                return NOTHING
            if c == " " and len(buf) == 1:
                return self._hold_char(buf + c)
        elif c == "(":
            return self._open_char(buf + c) if len(buf) + 1 < self._args_limit else None
        elif c in _NAME_CHARS and len(buf) < name + MAX_NAME_CHARS:
            self._buf = buf + c
            self._i += 1
            self._arm()  # the next ones are taken in feed
            return NOTHING
        if c in self._opens:
            self._hold_char(c)
        else:
            self._hold_char("")
            buf += c
        text = self._texts.get(buf)  # what _text_event does, inline: this runs per false start
        if text is None:
            text = self._text_event(buf)
        return [text]

    def _text_event(self, text: str) -> Text:
        """`Text(text)`, kept to hand out again when short."""
        event = self._texts.get(text)
        if event is None:
            event = Text(text)
            if len(text) <= _KEPT_CHARS and len(self._texts) < _KEPT_EVENTS:
                self._texts[text] = event
        return event

    def _closed_by(self, buf: str) -> Events:
        """`buf` ends in the close marker after the arguments' `)`: the call (the
        detector reads it)."""
        raise NotImplementedError

    def _hold_char(self, buf: str) -> Events:
        """Hold `buf`: an open marker and perhaps a space, or nothing."""
        self._buf, self._i, self._name_start, self._calm = buf, len(buf), -1, None
        return NOTHING

    def _open_char(self, buf: str) -> Events:
        """`[Name(` held whole (from the window's start): the call's arguments begin."""
        opened = self._opened.get(buf)
        if opened is None:
            opened = self._opened_event(buf, self._name_start)
        self._buf, self._name = buf, opened.name
        self._i = self._args_start = n = len(buf)
        self._state, self._calm, self._limit, self._stops = ARGS, ARGS_SPECIAL, self._args_limit, _ARGS_STOPS
        if self._one_char:  # what _arm makes
            self._room = self._armed = self._args_room - n
            self._takes = self._taken[_ARGS_STOPS]
        return [opened]

    def _opened_event(self, text: str, name: int) -> Opened:
        """`Opened` for `text`, `[Name(` with the name at `name`, kept to hand out again."""
        opened = self._opened.get(text)
        if opened is None:
            opened = Opened(text[name:-1], text)
            if len(self._opened) < _KEPT_EVENTS:
                self._opened[text] = opened
        return opened

    def _args_char(self, buf: str, c: str) -> Events | None:
        """`c` in the arguments: more of them, or the `)` that ends them."""
        n = len(buf)
        if self._calm is None or n >= self._limit or n - self._start >= WINDOW:
            return None
        if c not in self._stops:
            self._buf = buf + c
            self._i = n + 1
            self._seen(c)  # the next ones are taken in feed
            return NOTHING
        if c != ")" or self._quote or self._stack:
            return None
        self._buf = buf + c  # what follows the `)` decides
        self._args_end, self._i, self._state, self._calm = n, n + 1, AFTER, None
        self._room = self._armed = 2  # spaces before the close marker or an arrow
        self._takes = self._after_takes
        return NOTHING

    def _after_char(self, buf: str, c: str) -> Events | None:
        """`c` after a call's `)` and at most two spaces: the close marker, a space
        more, or a false start."""
        i = self._args_end + 1
        held = len(buf) - i  # spaces after the `)`, or the start of an arrow
        if held and buf[i:].strip(SPACES):
            return None  # the scan reads on
        if c in self._end_initials or c in self._opens:
            return self._closed_by(buf + c) if c == self._ends[0] and held <= 2 else None
        if c in SPACES:
            if held >= 2:
                return None
            self._buf = buf + c
            return NOTHING
        if self._start == 0:  # what _clear_call changes, nothing having been moved out of the window
            text = buf + c
            self._buf, self._i, self._state, self._name_start = "", 0, TEXT, -1
        else:
            text = self._text(self._start, len(buf)) + c
            self._buf = ""
            self._clear_call(0)
        event = self._texts.get(text)  # what _text_event does, inline: this runs per false start
        return [event if event is not None else self._text_event(text)]
