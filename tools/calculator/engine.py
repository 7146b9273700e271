"""From expression text to result text: parse, route, evaluate, format.

Arithmetic, functions and unit conversions are evaluated in this process; every step is
bounded by `limits`, so they are fast. Equations and solve, simplify, expand, factor,
diff, integrate and limit go to the worker process and are stopped at the time limit; so
does an expression that turns out to compare irrational numbers (floor, ceil, %, //,
min, max of, say, sqrt(2)), since deciding such a comparison may need unbounded precision.
"""

from __future__ import annotations

import ast

import sympy
from sympy.core.evalf import PrecisionExhausted

from agent.errors import ConfigError, ToolError
from tools.calculator import format as fmt
from tools.calculator import limits, names, symbolic
from tools.calculator.evaluate import Evaluator
from tools.calculator.format import Text
from tools.calculator.parse import Parsed, parse
from tools.calculator.settings import DEFAULT_DIGITS, DEFAULT_TIME_LIMIT
from tools.calculator.worker import Worker

MAX_MESSAGE_CHARS = 160


def calculate(expression: str, *, digits: int = DEFAULT_DIGITS, time_limit: float = DEFAULT_TIME_LIMIT) -> str:
    """The value of `expression` as short text; raises ToolError with a clear message for
    anything it cannot or will not compute."""
    check_settings(digits, time_limit)
    try:
        parsed = parse(expression)
        if not parsed.needs_worker():
            try:
                return evaluate(parsed, digits=digits, in_worker=False)
            except limits.NeedsWorker:
                pass
        return WORKER.run(expression, digits, time_limit)
    except ToolError as exc:
        raise ToolError(_one_short_line(str(exc))) from None


def _one_short_line(message: str) -> str:
    text = " ".join(message.split()).replace("[", "(").replace("]", ")")
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def check_settings(digits: int, time_limit: float) -> None:
    if not 1 <= digits <= limits.MAX_DIGITS:
        raise ConfigError(f"digits must be from 1 to {limits.MAX_DIGITS}, got {digits!r}")
    if not time_limit > 0:
        raise ConfigError(f"time_limit must be above zero, got {time_limit!r}")


def evaluate(parsed: Parsed, *, digits: int, in_worker: bool) -> str:
    try:
        value = Evaluator(parsed, digits=digits, in_worker=in_worker).value(parsed.tree)
        if isinstance(value, sympy.Equality):
            value = _solve_equation(value, digits, in_worker)
        elif _shows_exact_form(parsed.tree) and _is_plain_number(value):
            value = Text(fmt.solution(value, digits))
        return fmt.result(value, digits)
    except RecursionError:
        raise ToolError("the expression is too complex") from None
    except PrecisionExhausted:
        raise ToolError("the result cannot be computed precisely enough") from None
    except (TypeError, ValueError, ArithmeticError, NotImplementedError) as exc:
        raise ToolError(f"cannot evaluate this: {str(exc) or type(exc).__name__}") from None


def _solve_equation(equation: sympy.Equality, digits: int, allowed: bool) -> Text:
    if not allowed:
        raise ToolError("equations are solved in the worker process")
    return Text(symbolic.solve([equation], digits))


def _shows_exact_form(tree: ast.expr) -> bool:
    """Whether the whole expression is one call of solve, simplify, integrate and the like,
    whose numeric results are shown exact (with a decimal) rather than only as decimals."""
    return (
        isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name)
        and names.canonical(tree.func.id) in names.SYMBOLIC
    )


def _is_plain_number(value: object) -> bool:
    return isinstance(value, sympy.Expr) and bool(value.is_number) and not value.free_symbols


def _worker_job(expression: str, digits: int) -> str:
    return evaluate(parse(expression), digits=digits, in_worker=True)


WORKER = Worker(_worker_job)
