"""Whether an answer is backed by something that does not trust the model: a call that
succeeded and whose result the text after it uses, or a value the loop computed and
spliced in (`check_arithmetic`). Read from a run's typed parts, never from its text; an
answer that any failed call fed is never backed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation

from agent.parts import CallRecord, Part, Spliced

_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")
_WORD = re.compile(r"[^\W\d_]{4,}")
_COMMON = frozenset("that this with from have were will what when which there their about into than "
                    "then them they your more some only also just like over such".split())


def supported(parts: Sequence[Part]) -> bool:
    """Every call succeeded, and a spliced value or a call's result is used by the text
    that follows it."""
    if any(isinstance(p, CallRecord) and (p.error is not None or p.result is None) for p in parts):
        return False
    for n, part in enumerate(parts):
        if isinstance(part, Spliced):
            return True
        if isinstance(part, CallRecord) and part.result is not None:
            before = _written(parts[:n]) + " " + part.raw
            if uses(part.result, _written(parts[n + 1 :]), before=before):
                return True
    return False


def uses(result: str, after: str, *, before: str = "") -> bool:
    """Whether `after` takes something from `result` that `before` did not already say:
    one of its numbers (as written, rounded, or as a percentage), or one of its words."""
    if result.strip() and result.strip() in after:
        return True
    written = _numbers(after)
    if any(_same(x, y) for x in _numbers(result) for y in written):
        return True
    new = _words(result) - _words(before)
    return bool(new & _words(after))


def _written(parts: Iterable[Part]) -> str:
    """What the model wrote itself: text pieces and spliced values, calls left out."""
    return "".join(p if isinstance(p, str) else p.text if isinstance(p, Spliced) else " " for p in parts)


def _numbers(text: str) -> list[Decimal]:
    found: list[Decimal] = []
    for match in _NUMBER.findall(text):
        try:
            found.append(Decimal(match.replace(",", "")))
        except InvalidOperation:
            continue
    return found


def _same(x: Decimal, y: Decimal) -> bool:
    """`y` is `x` as written, rounded to `y`'s decimals, or `x` as a percentage."""
    exponent = y.as_tuple().exponent
    places = Decimal(1).scaleb(exponent) if isinstance(exponent, int) else Decimal(0)
    return any(abs(v - y) <= places / 2 for v in (x, x * 100))


def _words(text: str) -> set[str]:
    return {w for w in (m.casefold() for m in _WORD.findall(text)) if w not in _COMMON}
