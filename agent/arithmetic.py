"""Recompute the arithmetic a model writes: an equation `a op b =` is an implicit call.

As the text streams, `find_equation` spots the first `=` that closes an arithmetic
expression (`12 * 4 =`, `$3.50 + $1.25 =`, `(8 + 4) / 3 =`, `20% * 50 =`); the loop stops
the model there, splices the exact value (` 48`) and lets the model go on, so a small
model's chain of thought continues from correct numbers (arXiv 2201.11903, external
calculator).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from agent.results import format_number

MAX_EXPRESSION_CHARS = 120
MAX_POWER = 64
_NUMBER = r"\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?"
_OPERATOR = r"[-+*/×÷x^]"
_EXPRESSION = re.compile(
    rf"(?<![\w.,$-])\(*\s*{_NUMBER}\)*(?:\s*{_OPERATOR}\s*\(*\s*{_NUMBER}\s*\)*)+\s*=$"
)
_BINARY: dict[type[ast.operator], Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}


@dataclass(frozen=True)
class Equation:
    expression: str
    """The expression as the model wrote it, without the `=`."""
    end: int
    """Index in the text just after the `=`."""
    value: str
    """The value to splice after the `=`, with its leading space."""


def find_equation(text: str, start: int = 0) -> Equation | None:
    """The first `=` at or after `start` in `text` that ends an arithmetic expression
    with at least one operator, with the expression's value; None if there is none."""
    at = text.find("=", start)
    while at >= 0:
        equation = _equation_at(text, at)
        if equation is not None:
            return equation
        at = text.find("=", at + 1)
    return None


def _equation_at(text: str, at: int) -> Equation | None:
    if text[at - 1 : at] in ("=", "<", ">", "!") or text[at + 1 : at + 2] == "=":
        return None
    window = text[max(0, at - MAX_EXPRESSION_CHARS) : at + 1]
    match = _EXPRESSION.search(window)
    if match is None:
        return None
    expression = _balanced(match.group(0)[:-1].strip())
    if expression is None:
        return None
    value = evaluate(expression)
    if value is None:
        return None
    money = expression.lstrip("(").startswith("$")
    return Equation(expression, at + 1, f" {'$' if money else ''}{format_value(value, money=money)}")


def _balanced(expression: str) -> str | None:
    """The expression without unmatched parentheses at its edges; None if it cannot be."""
    while expression.count("(") > expression.count(")") and expression.startswith("("):
        expression = expression[1:].lstrip()
    while expression.count(")") > expression.count("(") and expression.endswith(")"):
        expression = expression[:-1].rstrip()
    return expression if expression.count("(") == expression.count(")") else None


def evaluate(expression: str) -> Fraction | None:
    """The exact value of an arithmetic expression as people write it (`$`, thousands
    commas, `×`, `÷`, `x`, `^`, `n%` as n/100); None if it is not one or has no value."""
    source = re.sub(r"(\d),(?=\d{3})", r"\1", expression).replace("$", "")
    source = source.replace("×", "*").replace("÷", "/").replace("x", "*").replace("^", "**")
    source = re.sub(r"(\d+(?:\.\d+)?)%", r"(\1/100)", source)
    try:
        tree = ast.parse(source, mode="eval").body
        return _value(tree)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None


def _value(node: ast.expr) -> Fraction:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _value(node.operand)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow):
            if right.denominator != 1 or abs(right) > MAX_POWER:
                raise ValueError("unsupported power")
            return left ** int(right)
        op = _BINARY.get(type(node.op))
        if op is not None:
            return op(left, right)
    raise ValueError("not arithmetic")


def format_value(value: Fraction, *, money: bool = False) -> str:
    """Integers exactly, money with two decimals, other values to six significant digits."""
    if value.denominator == 1:
        return str(value.numerator)
    if money:
        return f"{float(value):.2f}"
    return format_number(float(value))
