"""Scoring of arithmetic answers by the lenient rule of the Toolformer paper.

The predicted answer of a run is read from its final text:

1. every completed call `[Name(args) → result]` is replaced by its result (a call that
   came back as an error, or has no result, by nothing), so numbers inside arguments
   never count, and a number the model left to a call does;
2. if the text then contains "answer is" (any case) or GSM8K's "####", the prediction is
   the first number after the first such marker;
3. otherwise it is the first number in the text.

A number is an optional minus sign, an optional `$`, digits with optional thousands
commas, and an optional decimal part. It is correct when it is within 0.005 of the gold
answer (answers are whole or have at most two decimals; `29.0` and `29` are the same).
"""

from __future__ import annotations

import re

from agent.markup import DEFAULT_MARKUP, Markup
from agent.parts import parts_of, plain_text

_NUMBER = re.compile(r"-?\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\$?\.\d+")
_ANSWER_IS = re.compile(r"answer is|####", re.IGNORECASE)
TOLERANCE = 0.005


def without_calls(text: str, markup: Markup = DEFAULT_MARKUP) -> str:
    """A stored transcript with each completed call replaced by its result (errors by
    nothing)."""
    return plain_text(parts_of(text, markup))


def numbers(text: str) -> list[float]:
    found: list[float] = []
    for match in _NUMBER.finditer(text):
        try:
            found.append(float(match.group(0).replace(",", "").replace("$", "")))
        except ValueError:
            continue
    return found


def predicted_answer(text: str, markup: Markup = DEFAULT_MARKUP) -> float | None:
    """The answer in a stored transcript by the lenient rule (see the module doc), or None."""
    return answer_in(without_calls(text, markup))


def answer_in(plain: str) -> float | None:
    """The answer in text whose calls are already replaced by their results."""
    mark = _ANSWER_IS.search(plain)
    if mark:
        after = numbers(plain[mark.end() :])
        if after:
            return after[0]
    found = numbers(plain)
    return found[0] if found else None


def is_correct(predicted: float | None, gold: float) -> bool:
    return predicted is not None and abs(predicted - gold) <= TOLERANCE
