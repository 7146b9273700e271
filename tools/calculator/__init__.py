"""The Calculator tool: arithmetic, percentages, unit conversions and algebra, safely.

Model text is never handed to `eval` or sympy's parser: `lexer` keeps a whitelist of
tokens, `parse` a whitelist of `ast` nodes, and `evaluate` builds the sympy value node by
node under the bounds of `limits`. Arithmetic runs in this process. Equations, symbolic
operations (`symbolic`), and what sympy may take unbounded time over (comparing
irrational numbers, functions of functions) run in a worker process that is killed at
the time limit (`worker`). Results are formatted by `format`; units are in `units`.

    calculate("400 / 1400")            -> "0.285714"
    calculate("15% of 80")             -> "12"
    calculate("200 + 10%")             -> "220"
    calculate("120 km/h in m/s")       -> "33.3333 m/s"
    calculate("solve(x^2 = 2)")        -> "x = -sqrt(2) ≈ -1.41421 or x = sqrt(2) ≈ 1.41421"
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

from agent import Markup, Tool, tool
from tools.calculator.grammar import ARITHMETIC
from tools.calculator.settings import DEFAULT_DIGITS, DEFAULT_TIME_LIMIT

__all__ = ["ARITHMETIC", "EXAMPLES", "TOOL_TIMEOUT", "calculate", "calculator", "make_calculator", "stop_worker"]

TOOL_TIMEOUT = 10.0
"""Seconds the framework allows a call: the time limit plus starting the worker process."""

EXAMPLES = (
    "Question: A box holds 24 cans. How many cans are in 15 boxes?\nAnswer: The answer is [Calculator(15 * 24) → 360].",
    "Question: What is 30% of 420?\nAnswer: The answer is [Calculator(30% of 420) → 126].",
    "Question: Ann had $52.50 and spent $18.75. How many dollars does she have left?\n"
    "Answer: The answer is [Calculator(52.50 - 18.75) → 33.75].",
    "Question: A 1,350 km trip is driven in 6 equal parts. How many km long is each part?\n"
    "Answer: The answer is [Calculator(1350 / 6) → 225].",
    "Question: A shop sold 1,380 cups on Monday and 2,715 cups on Tuesday. How many cups did it sell in all?\n"
    "Answer: The answer is [Calculator(1380 + 2715) → 4095].",
    "Question: A class of 30 students has 12 boys. What percent of the class are boys?\n"
    "Answer: The answer is [Calculator(12 / 30 * 100) → 40].",
    "Question: Tim has 4 bags of 60 marbles and loses 25 marbles. How many marbles does he have?\n"
    "Answer: The answer is [Calculator(4 * 60 - 25) → 215].",
    "Question: Three friends share a $94.50 bill equally. How many dollars does each pay?\n"
    "Answer: The answer is [Calculator(94.50 / 3) → 31.5].",
    "At 120 km/h a car covers [Calculator(120 km/h in m/s) → 33.3333 m/s] about 33 meters each second.",
    "The roots of x^2 - 5x + 6 are [Calculator(solve(x^2 - 5x + 6 = 0)) → x = 2 or x = 3] 2 and 3.",
    "Out of 1400 participants, 400 (or [Calculator(400 / 1400) → 0.285714] 29%) passed the test.",
)
"""Questions answered with one call each (the layout tiny models follow best), then
units, algebra and a call inside a sentence."""
_CALL = re.compile(r"\[Calculator\((.*?)\) → ([^\]]*)\]")
_ENGINE = "tools.calculator.engine"
_MARKUP = Markup()


def calculate(expression: str, *, digits: int = DEFAULT_DIGITS, time_limit: float = DEFAULT_TIME_LIMIT) -> str:
    """The value of `expression` as short text; raises ToolError with a clear message for
    anything it cannot or will not compute. sympy loads on the first call."""
    from tools.calculator import engine

    return engine.calculate(expression, digits=digits, time_limit=time_limit)


def _make(run: Callable[[str], str], *, name: str, examples: tuple[str, ...], timeout: float) -> Tool:
    """The tool around `run`: its input is math as written (`[Calculator(x = 5)]` is an
    equation, not a keyword argument), constrained to arithmetic under a grammar."""
    return tool(name=name, examples=examples, timeout=timeout, grammar=ARITHMETIC, raw=True)(run)


def _calculator(expression: str) -> str:
    """Do math: arithmetic, percentages, unit conversions (120 km/h in m/s) and algebra (solve, diff, integrate).

    Args:
        expression: The math as you would type it into a calculator, e.g. 400 / 1400 or 15% of 80.
    """
    return calculate(expression)


calculator = _make(_calculator, name="Calculator", examples=EXAMPLES, timeout=TOOL_TIMEOUT)


def make_calculator(
    *, digits: int = DEFAULT_DIGITS, time_limit: float = DEFAULT_TIME_LIMIT, name: str = "Calculator",
) -> Tool:
    """A Calculator tool that rounds inexact results to `digits` significant digits (see
    `tools.calculator.format`) and stops symbolic operations after `time_limit` seconds."""
    from tools.calculator.engine import check_settings

    check_settings(digits, time_limit)
    base = calculator

    def run(expression: str) -> str:
        return calculate(expression, digits=digits, time_limit=time_limit)

    run.__doc__ = base.fn.__doc__
    run.__name__ = base.fn.__name__
    return _make(run, name=name, examples=_examples(digits, name), timeout=max(TOOL_TIMEOUT, time_limit + TOOL_TIMEOUT))


def _examples(digits: int, name: str) -> tuple[str, ...]:
    """EXAMPLES under another name, with results recomputed for `digits` (those computed
    in this process; the symbolic ones do not depend on digits)."""

    from tools.calculator.parse import parse

    def redo(match: re.Match[str]) -> str:
        expression, result = match.group(1), match.group(2)
        if digits != DEFAULT_DIGITS and not parse(expression).needs_worker():
            result = calculate(expression, digits=digits)
        return _MARKUP.completed(name, expression, result)

    return tuple(_CALL.sub(redo, text) for text in EXAMPLES)


def stop_worker() -> None:
    """Stop the worker process (it also ends with this process); there is none before
    the first calculation."""
    engine = sys.modules.get(_ENGINE)
    if engine is not None:
        engine.WORKER.close()
