"""Turn what a tool returned into the short text spliced after the arrow."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

MAX_RESULT_CHARS = 600
SIGNIFICANT_DIGITS = 6


@dataclass(frozen=True)
class ToolOutput:
    """What a tool returns when its result has content beyond text (an image, audio, a
    resource): `text` is spliced (it describes that content), `content` is kept in the
    call record as it came."""

    text: str
    content: tuple[Mapping[str, object], ...] = ()


def format_result(value: Any, *, max_chars: int = MAX_RESULT_CHARS, digits: int = SIGNIFICANT_DIGITS) -> str:
    """Numbers rounded to `digits` significant digits, containers as compact JSON, text
    with runs of white space folded where it is one line, anything too long cut with a
    visible marker."""
    return truncate(_as_text(value, digits), max_chars)


def _as_text(value: Any, digits: int) -> str:
    kind = type(value)
    if kind is int:  # before the checks against numbers' abstract classes, which are slow
        return str(value)
    if kind is str:
        return value.strip()  # type: ignore[no-any-return]
    if value is None:
        return "done"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (float, Decimal, Fraction)):
        return format_number(float(value), digits)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (list, tuple, dict)):
        try:
            return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
        except (TypeError, ValueError):
            return repr(value)
    return str(value)


def format_number(x: float, digits: int = SIGNIFICANT_DIGITS) -> str:
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == int(x) and abs(x) < 10**15:
        return str(int(x))
    text = f"{x:.{digits}g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        return f"{mantissa}e{int(exp)}"
    return text


def truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = len(text) - max_chars
    return f"{text[:max_chars]}… [{cut} more characters cut]"
