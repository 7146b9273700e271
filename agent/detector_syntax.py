"""What the detector reads inside a call's arguments: brackets that must pair, and
strings written as Python writes them, where a bracket or a `)` is text."""

from __future__ import annotations

import keyword
import re
import string

__all__ = [
    "ARGS_SPECIAL", "CLOSERS", "PAIRS", "SINGLE_QUOTED", "SPACES", "STOPS", "TRIPLE_QUOTED", "open_quote", "opens_string",
    "partial_suffix",
]

PAIRS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = set(PAIRS.values())
SPACES = " \u00a0\u2009\u202f"
"""What may stand between a call's `)` and its close marker or arrow: spaces, no-break
and thin spaces."""
ARGS_SPECIAL = re.compile(r"[()\[\]{}'\"]")
"""What matters in the arguments outside a string: brackets and quotes."""
SINGLE_QUOTED = {q: re.compile(rf"[\\\n{q}]") for q in "'\""}
"""What matters inside a one-line string, by its quote."""
TRIPLE_QUOTED = {q: re.compile(rf"[\\{q}]") for q in "'\""}
"""What matters inside a triple-quoted string, by its quote."""
STOPS = {ARGS_SPECIAL: "()[]{}'\"", **{p: "\\\n" + q for q, p in SINGLE_QUOTED.items()},
         **{p: "\\" + q for q, p in TRIPLE_QUOTED.items()}}
"""The characters each of those patterns matches, for a test of one character."""
_STRING_PREFIXES = {"r", "b", "f", "u", "rb", "br", "fr", "rf"}
_IDENT_CHARS = string.ascii_letters + string.digits + "_"
_LOOK_BACK = 40


def opens_string(buf: str, args_start: int, i: int) -> bool:
    """Whether the quote at `buf[i]` starts a string where Python could have one, so
    that the apostrophe in a raw argument like `what's new` stays text."""
    before = buf[max(args_start, i - _LOOK_BACK) : i]
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


def open_quote(buf: str, i: int) -> tuple[str, int] | None:
    """The string opened by the quote at `buf[i]`: the quote left open (empty for `''`)
    and the characters read; None when the text so far cannot tell."""
    q = buf[i]
    if i + 1 >= len(buf):
        return None
    if buf[i + 1] != q:
        return q, 1
    if i + 2 >= len(buf):
        return None
    return (q * 3, 3) if buf[i + 2] == q else ("", 2)


def partial_suffix(data: str, marker: str) -> int:
    """Length of the longest suffix of `data` that is a proper prefix of `marker`."""
    for n in range(min(len(marker) - 1, len(data)), 0, -1):
        if marker.startswith(data[-n:]):
            return n
    return 0
