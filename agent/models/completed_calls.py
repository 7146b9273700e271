"""Find completed calls, `[Name(args) → result]`, in an assistant's text.

The arguments run to the balanced closing parenthesis (parentheses inside quotes do not
count; text with an unpaired quote falls back to plain balancing); the result runs from
the arrow to the balanced closing marker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.markup import DEFAULT_MARKUP, Markup

_NAME = re.compile(r"[A-Za-z_][\w.\-]*")


@dataclass(frozen=True)
class CompletedCall:
    name: str
    raw: str
    """The text between the parentheses, verbatim."""
    result: str
    """The text after the arrow, without surrounding whitespace."""
    start: int
    end: int
    """`text[start:end]` is the whole call, markers included."""


def split_completed_calls(text: str, markup: Markup = DEFAULT_MARKUP) -> list[str | CompletedCall]:
    """`text` as alternating plain text and completed calls (empty text is left out)."""
    parts: list[str | CompletedCall] = []
    at = 0
    for call in find_completed_calls(text, markup):
        if call.start > at:
            parts.append(text[at : call.start])
        parts.append(call)
        at = call.end
    if at < len(text):
        parts.append(text[at:])
    return parts


def find_completed_calls(text: str, markup: Markup = DEFAULT_MARKUP) -> list[CompletedCall]:
    calls: list[CompletedCall] = []
    at = text.find(markup.open)
    while at != -1:
        call = parse_completed_call(text, at, markup)
        if call is not None:
            calls.append(call)
            at = text.find(markup.open, call.end)
        else:
            at = text.find(markup.open, at + len(markup.open))
    return calls


def parse_completed_call(text: str, start: int, markup: Markup = DEFAULT_MARKUP) -> CompletedCall | None:
    """The completed call opening at `text[start]`, or None if there is none."""
    if not text.startswith(markup.open, start):
        return None
    name = _NAME.match(text, start + len(markup.open))
    if name is None or not text.startswith("(", name.end()):
        return None
    open_paren = name.end()
    close_paren = _closing_paren(text, open_paren, quotes=True)
    if close_paren is None:
        close_paren = _closing_paren(text, open_paren, quotes=False)
    if close_paren is None:
        return None
    after = close_paren + 1
    while after < len(text) and text[after].isspace():
        after += 1
    arrow = next((a for a in markup.arrows if text.startswith(a, after)), None)
    if arrow is None:
        return None
    result_start = after + len(arrow)
    close = _closing_marker(text, result_start, markup)
    if close is None:
        return None
    return CompletedCall(
        name=name.group(),
        raw=text[open_paren + 1 : close_paren],
        result=text[result_start:close].strip(),
        start=start,
        end=close + len(markup.close),
    )


def _closing_paren(text: str, open_at: int, *, quotes: bool) -> int | None:
    depth = 0
    quote: str | None = None
    i = open_at
    while i < len(text):
        char = text[i]
        if quote is not None:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif quotes and char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _closing_marker(text: str, at: int, markup: Markup) -> int | None:
    depth = 1
    i = at
    while i < len(text):
        if text.startswith(markup.close, i):
            depth -= 1
            if depth == 0:
                return i
            i += len(markup.close)
        elif text.startswith(markup.open, i):
            depth += 1
            i += len(markup.open)
        else:
            i += 1
    return None
