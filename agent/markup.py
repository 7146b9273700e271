"""The inline call markup: `[Name(args)]`, completed as `[Name(args) → result]`.

Arguments are either Python literals (`[Search(query="x", max_results=3)]`) or one raw
string, everything between the parentheses (`[Calculator(400 / 1400)]`). The markers are
configurable, e.g. `Markup(open="<API>", close="</API>")`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from agent.arguments import Arguments, parse_arguments_with_ast, scan_arguments
from agent.frozen import quick_init

ERROR_PREFIX = "Error:"
"""Starts the text after the arrow of a call that failed (a result that starts with it
is escaped)."""


@dataclass(frozen=True)
class Markup:
    open: str = "["
    close: str = "]"
    arrow: str = "→"
    alt_arrows: tuple[str, ...] = ("->", "⟶", "⇒", "=>", "➔", "➜", "⇾", "⟹")
    """Other arrows a model may write for a result; each ends a call like the arrow."""

    @property
    def arrows(self) -> tuple[str, ...]:
        return (self.arrow, *self.alt_arrows)

    @property
    def opens(self) -> tuple[str, ...]:
        """The open marker and its full-width form (`［`), which a model may write for it."""
        return _with_wide(self.open.strip())

    @property
    def closes(self) -> tuple[str, ...]:
        """The close marker and its full-width form (`］`)."""
        return _with_wide(self.close.strip())

    def call(self, name: str, raw: str) -> str:
        """The call as the model writes it, without a result: `[Name(raw)]`."""
        return f"{self.open}{name}({raw}){self.close}"

    def completed(self, name: str, raw: str, result: str) -> str:
        """The call with its result, as it stands in the transcript; markers and arrows
        inside the result are escaped (`escape`), so it reads back whole."""
        shown = self.escape(result)
        if shown.startswith(ERROR_PREFIX):
            shown = "\\" + shown
        return f"{self.open}{name}({raw}) {self.arrow} {shown}{self.close}"

    def failed(self, name: str, raw: str, error: str) -> str:
        """The call with its error, as it stands in the transcript."""
        return f"{self.open}{name}({raw}) {self.arrow} {ERROR_PREFIX} {self.escape(error)}{self.close}"

    def render(self, name: str, raw: str, *, result: str | None = None, error: str | None = None) -> str:
        """A call as it stands in the transcript: with its error, its result, or (with
        neither) as written. The one place a call is rendered."""
        if error is not None:
            return self.failed(name, raw, error)
        return self.call(name, raw) if result is None else self.completed(name, raw, result)

    @cached_property
    def _specials(self) -> re.Pattern[str]:
        tokens = sorted({"\\", self.open, self.close, *self.arrows}, key=len, reverse=True)
        return re.compile("|".join(re.escape(t) for t in tokens if t))

    def escape(self, result: str) -> str:
        """`result` with a backslash before each backslash, marker and arrow in it."""
        return self._specials.sub(lambda m: "\\" + m.group(0), result)

    def unescape(self, text: str) -> str:
        """The result that `escape` turned into `text`."""
        specials = self._specials.pattern
        return re.sub(f"\\\\({specials})", lambda m: m.group(1), text)

    def opened(self, name: str) -> str:
        return f"{self.open}{name}("


DEFAULT_MARKUP = Markup()


def _with_wide(marker: str) -> tuple[str, ...]:
    """`marker`, and its full-width form when it has one (ASCII `!`…`~` map to U+FF01…)."""
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in marker)
    return (marker,) if wide == marker else (marker, wide)


@quick_init
@dataclass(frozen=True)
class ParsedCall:
    """A call as the model wrote it."""

    name: str
    raw: str
    """The text between the parentheses, verbatim."""
    args: tuple[Any, ...] | None = None
    """Positional arguments when `raw` parses as Python literals, else None."""
    kwargs: Mapping[str, Any] | None = field(default=None)
    problem: str | None = None
    """Why `raw`, written as keyword arguments, does not parse as them (a value that is
    not a Python literal, a keyword given twice), else None."""
    keywords: tuple[str, ...] = ()
    """The names `raw` gives as keyword arguments, when it reads as an argument list."""

    @classmethod
    def of(cls, name: str, raw: str) -> ParsedCall:
        args, kwargs, problem, keywords = parse_arguments(raw)
        return cls(name, raw, args, kwargs, problem, keywords)

    def key(self) -> tuple[str, str]:
        """What makes two calls the same call."""
        return (self.name.casefold(), " ".join(self.raw.split()))


def parse_literal_arguments(raw: str) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """`raw` as Python-literal positional and keyword arguments, or None if it is not."""
    args, kwargs, _problem, _keywords = parse_arguments(raw)
    return None if args is None or kwargs is None else (args, kwargs)


def parse_arguments(raw: str) -> Arguments:
    """`raw` read as Python-literal arguments: (args, kwargs, problem, keywords), with
    args and kwargs None when it is not. The common shapes (integers, plain strings,
    True/False/None, `name=` before them, and prose) are read by a scanner; the rest by
    `ast`, which decides exactly the same way."""
    read = scan_arguments(raw)
    return read if read is not None else parse_arguments_with_ast(raw)


def format_arguments(*args: Any, **kwargs: Any) -> str:
    """Python-literal argument text that `parse_literal_arguments` reads back."""
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return ", ".join(parts)
