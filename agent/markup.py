"""The inline call markup: `[Name(args)]`, completed as `[Name(args) → result]`.

Arguments are either Python literals (`[Search(query="x", max_results=3)]`) or one raw
string, everything between the parentheses (`[Calculator(400 / 1400)]`). The markers are
configurable, e.g. `Markup(open="<API>", close="</API>")`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

MAX_ARGUMENT_CHARS = 20_000
ERROR_PREFIX = "Error:"
"""Starts the text after the arrow of a call that failed (a result that starts with it
is escaped)."""
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")


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


@dataclass(frozen=True)
class ParsedCall:
    """A call as the model wrote it."""

    name: str
    raw: str
    """The text between the parentheses, verbatim."""
    args: tuple[Any, ...] | None = None
    """Positional arguments when `raw` parses as Python literals, else None."""
    kwargs: Mapping[str, Any] | None = field(default=None)

    @classmethod
    def of(cls, name: str, raw: str) -> ParsedCall:
        literal = parse_literal_arguments(raw)
        if literal is None:
            return cls(name, raw)
        return cls(name, raw, literal[0], literal[1])

    def key(self) -> tuple[str, str]:
        """What makes two calls the same call."""
        return (self.name.casefold(), " ".join(self.raw.split()))


def parse_literal_arguments(raw: str) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """`raw` as Python-literal positional and keyword arguments, or None if it is not."""
    if len(raw) > MAX_ARGUMENT_CHARS:
        return None
    text = raw.strip()
    if not text:
        return (), {}
    if _INTEGER.fullmatch(text):
        return (int(text),), {}
    try:
        node = ast.parse(f"f({raw}\n)", mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not isinstance(node, ast.Call):
        return None
    try:
        args = tuple(ast.literal_eval(a) for a in node.args)
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg is not None}
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return None
    if any(k.arg is None for k in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args):
        return None
    return args, kwargs


def format_arguments(*args: Any, **kwargs: Any) -> str:
    """Python-literal argument text that `parse_literal_arguments` reads back."""
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return ", ".join(parts)
