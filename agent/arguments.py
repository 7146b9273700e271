"""Call arguments read as Python literals: `ast` decides, and a scanner that decides the
same way reads the common shapes without it.

`parse_arguments_with_ast` is the definition: `raw` is what stands between the
parentheses of `f(...)`; every positional and keyword value must be a literal
(`ast.literal_eval`); a keyword given twice, a value that is not a literal or a `**`
among keyword arguments is a problem reported with the keywords' names. `scan_arguments`
reads integers, plain strings, True/False/None and `name=` before them, and it sees at
once that prose or arithmetic is not literals; anything else it leaves to `ast`.
"""

from __future__ import annotations

import ast
import keyword
import re
import warnings
from typing import Any

MAX_ARGUMENT_CHARS = 20_000

Arguments = tuple[tuple[Any, ...] | None, dict[str, Any] | None, str | None, tuple[str, ...]]
"""(args, kwargs, problem, keywords): args and kwargs are None when `raw` is not literal
arguments; problem says why, when it was written as keyword arguments; keywords are the
names given as keyword arguments, when `raw` reads as an argument list."""

NOT_LITERAL: Arguments = (None, None, None, ())
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_STRING = r"\"(?P<dq>[^\"\\\x00-\x1f\x7f\ud800-\udfff]*)\"|'(?P<sq>[^'\\\x00-\x1f\x7f\ud800-\udfff]*)'"
_ITEM = re.compile(
    r" *(?:(?P<key>[A-Za-z_][A-Za-z0-9_]*) *=(?!=) *)?"
    rf"(?:(?P<int>-?(?:0|[1-9][0-9]{{0,17}}))|{_STRING}|(?P<constant>True|False|None)) *(?:,(?! *,)|\Z)"
)
"""One plain argument: an optional `name=`, an integer, a string without escapes or a
constant, and the comma after it (or the end)."""
_TOKEN = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<int>-?(?:0|[1-9][0-9]{0,17}))"
    rf"|{_STRING}"
)
_CONSTANTS: dict[str, Any] = {"True": True, "False": False, "None": None}
_STRING_PREFIXES = {"r", "u", "b", "f", "br", "rb", "fr", "rf"}
_NOT_LITERAL_AFTER_NUMBER = set("*/%@<>&|^")
"""An operator after a number at the start of an argument makes it not a literal
(`+` and `-` may write a complex number, which is one)."""


def parse_arguments_with_ast(raw: str) -> Arguments:
    """`raw` read with `ast`: the definition the scanner follows."""
    start = _trivial(raw)
    if start is not None:
        return start
    try:
        with warnings.catch_warnings():  # model text like `1st` or "C:\\Temp" warns; it is only read
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # an invalid escape, before Python 3.12
            node = ast.parse(f"f({raw}\n)", mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return NOT_LITERAL
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "f"):
        return NOT_LITERAL
    keywords = tuple(k.arg for k in node.keywords if k.arg is not None)
    repeated = _repeated(keywords)
    if repeated is not None:
        return None, None, repeated, keywords
    args: list[Any] = []
    for i, a in enumerate(node.args):
        ok, value = _literal(a)
        if not ok:
            return None, None, _not_parsed(node, f"argument {i + 1} is not a Python literal"), keywords
        args.append(value)
    kwargs: dict[str, Any] = {}
    for k in node.keywords:
        ok, value = _literal(k.value) if k.arg is not None else (False, None)
        if not ok or k.arg is None:
            what = f"the value of {k.arg!r} is not a Python literal" if k.arg else "** is not allowed"
            return None, None, _not_parsed(node, what), keywords
        kwargs[k.arg] = value
    return tuple(args), kwargs, None, keywords


def scan_arguments(raw: str) -> Arguments | None:
    """`raw` read without `ast` where that is certain to give what `ast` gives, else None."""
    start = _trivial(raw)
    if start is not None:
        return start
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    names: list[str] = []
    pos, n = 0, len(raw)
    while pos < n:
        item = _ITEM.match(raw, pos)
        if item is None:
            if _skip_spaces(raw, pos) == n and names + args and raw[pos - 1] == ",":
                break
            return _not_plain(raw, _skip_spaces(raw, pos))
        key, integer, dq, sq, constant = item.groups()
        value = int(integer) if integer is not None else _CONSTANTS[constant] if constant else dq if dq is not None else sq
        if key is not None:
            if keyword.iskeyword(key):
                return None
            names.append(key)
            kwargs[key] = value
        elif names:
            return None
        else:
            args.append(value)
        pos = item.end()
    repeated = _repeated(names)
    if repeated is not None:
        return None, None, repeated, tuple(names)
    return tuple(args), kwargs, None, tuple(names)


def _not_plain(raw: str, pos: int) -> Arguments | None:
    """At an argument that is not a plain value: whether the arguments are certainly not
    literals (NOT_LITERAL), else None."""
    token = _TOKEN.match(raw, pos)
    if token is None:
        return None
    no_keywords = "=" not in raw and "**" not in raw
    end = token.end()
    if token.lastgroup == "name" and token.group() not in _CONSTANTS:
        after = _skip_spaces(raw, end)
        if raw.startswith("=", after) and not raw.startswith("==", after):
            return None
        return _bare_name(raw, token.group(), end, after, no_keywords)
    if token.lastgroup == "int" and no_keywords and _operator_follows(raw, end):
        return NOT_LITERAL
    return None


def _trivial(raw: str) -> Arguments | None:
    """What both readers decide before reading: too long, empty, one integer."""
    if len(raw) > MAX_ARGUMENT_CHARS:
        return NOT_LITERAL
    text = raw.strip()
    if not text:
        return (), {}, None, ()
    if _INTEGER.fullmatch(text):
        return (int(text),), {}, None, ()
    return None


def _bare_name(raw: str, word: str, end: int, after: int, no_keywords: bool) -> Arguments | None:
    """An argument that starts with a name other than True, False or None: not a literal
    (unless it is `set()`), and not even Python when another word follows it."""
    if keyword.iskeyword(word) or (end < len(raw) and raw[end] in "'\"" and word.lower() in _STRING_PREFIXES):
        return None
    if no_keywords and word != "set" or (end < len(raw) and raw[end] in "'\""):
        return NOT_LITERAL
    if end == len(raw) or raw[end] != " " or after == len(raw):
        return None
    following = _TOKEN.match(raw, after)
    if following is None or following.lastgroup == "name" and keyword.iskeyword(following.group()):
        return None
    return NOT_LITERAL


def _skip_spaces(raw: str, pos: int) -> int:
    while pos < len(raw) and raw[pos] == " ":
        pos += 1
    return pos


def _operator_follows(raw: str, end: int) -> bool:
    after = _skip_spaces(raw, end)
    return after < len(raw) and raw[after] in _NOT_LITERAL_AFTER_NUMBER


def _literal(node: ast.expr) -> tuple[bool, Any]:
    if isinstance(node, ast.Starred):
        return False, None
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return False, None


def _repeated(names: tuple[str, ...] | list[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return f"the keyword argument {name!r} is given twice"
        seen.add(name)
    return None


def _not_parsed(node: ast.Call, what: str) -> str | None:
    """The problem to report, when the arguments were written as keyword arguments."""
    return f"the keyword arguments did not parse: {what}" if node.keywords else None
