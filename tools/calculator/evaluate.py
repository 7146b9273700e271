"""Walk the checked syntax tree and build the sympy value, bounding every step.

Decimal literals are exact fractions (`0.1 + 0.2` is exactly 3/10). `a + p%` and
`a - p%` add or take off p percent of a (`200 + 10%` is 220); elsewhere `p%` is p/100.
Names are constants (`pi`, `e`, `i`, `oo`, `deg`), functions, variables (single letters,
optionally with digits, and Greek letter names) or, inside a conversion, units.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import sympy

from agent.errors import ToolError
from tools.calculator import format as fmt
from tools.calculator import functions, limits, names, symbolic, units
from tools.calculator.format import Text
from tools.calculator.names import PERCENT
from tools.calculator.parse import Parsed

Expr = Any

_CONSTANTS: dict[str, Expr] = {
    "pi": sympy.pi, "e": sympy.E, "E": sympy.E, "tau": 2 * sympy.pi, "i": sympy.I, "I": sympy.I,
    "oo": sympy.oo, "inf": sympy.oo, "infinity": sympy.oo,
    "deg": sympy.pi / 180, "degree": sympy.pi / 180, "degrees": sympy.pi / 180,
}
_OPERATORS: dict[type[ast.operator], Callable[[Expr, Expr], Expr]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: sympy.floor(a / b),
    ast.Mod: lambda a, b: sympy.Mod(a, b),
}


class Evaluator:
    def __init__(self, parsed: Parsed, *, digits: int, in_worker: bool, in_units: bool = False) -> None:
        self.parsed = parsed
        self.digits = digits
        self.in_worker = in_worker
        self.in_units = in_units

    def value(self, node: ast.expr) -> Expr | Text:
        if isinstance(node, ast.Constant):
            return self._number(node)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.UnaryOp):
            operand = self.expr(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Compare):
            return sympy.Eq(self.expr(node.left), self.expr(node.comparators[0]))
        if isinstance(node, ast.Tuple):
            raise ToolError("commas separate the arguments of a function; write thousands as 1,234 or 1234")
        raise ToolError(f"unsupported syntax ({type(node).__name__})")

    def expr(self, node: ast.expr) -> Expr:
        """The value of `node`, which must be a number or expression, not a final text."""
        value = self.value(node)
        if isinstance(value, Text):
            name = node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else "this"
            raise ToolError(f"the result of {name}(...) cannot be used inside a larger expression")
        if isinstance(value, sympy.Equality) or value is sympy.true or value is sympy.false:
            raise ToolError("an equation cannot be used inside a larger expression; solve it with solve(...)")
        return value

    def _number(self, node: ast.Constant) -> Expr:
        fraction = Fraction(self.parsed.segment(node))
        return limits.bound(sympy.Rational(fraction.numerator, fraction.denominator))

    def _name(self, name: str) -> Expr:
        if self.in_units:
            unit = units.lookup(name)
            if unit is not None:
                return unit
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if names.is_function(name):
            raise ToolError(f"{name} is a function: write {name}(...)")
        if self.in_units and name in units.TEMPERATURES:
            raise ToolError(f"{name} is a temperature: convert it on its own, as in 100 degF in degC")
        if names.is_variable(name):
            return sympy.Symbol(name)
        if self.in_units:
            raise ToolError(f"unknown unit {name!r}")
        if units.lookup(name) is not None:
            raise ToolError(f"unknown name {name!r}; units work in conversions, as in 5 {name} in ...")
        raise ToolError(f"unknown name {name!r}")

    def _binary(self, node: ast.BinOp) -> Expr:
        if isinstance(node.op, ast.Mult) and isinstance(node.left, ast.Name) and isinstance(node.right, ast.Tuple):
            raise ToolError(f"unknown function {node.left.id!r}")
        if isinstance(node.op, (ast.Add, ast.Sub)) and _is_percent(node.right) and not _is_percent(node.left):
            base = self.expr(node.left)
            assert isinstance(node.right, ast.Call)
            share = self.expr(node.right.args[0]) / 100
            return limits.bound(base * (1 + share if isinstance(node.op, ast.Add) else 1 - share))
        left, right = self.expr(node.left), self.expr(node.right)
        if isinstance(node.op, ast.Pow):
            return limits.bound(limits.power(left, right, in_worker=self.in_worker))
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right.is_zero:
            raise ToolError("division by zero")
        if isinstance(node.op, (ast.FloorDiv, ast.Mod)):
            limits.check_decidable("remainder", (left, right), self.in_worker)
        if isinstance(node.op, ast.Mod):
            limits.check_remainder(left, right)
        operator = _OPERATORS.get(type(node.op))
        if operator is None:
            raise ToolError(f"unsupported operator ({type(node.op).__name__})")
        return limits.bound(operator(left, right))

    def _call(self, node: ast.Call) -> Expr | Text:
        assert isinstance(node.func, ast.Name)
        written = node.func.id
        name = names.canonical(written)
        if name not in names.ARITY:
            raise ToolError(f"unknown function {written!r}")
        low, high = names.ARITY[name]
        if not low <= len(node.args) <= high:
            raise ToolError(f"{written} takes {_count(low, high)}, got {len(node.args)}")
        if name != "integrate" and any(isinstance(a, ast.Tuple) for a in node.args):
            raise ToolError(_tuple_message(written, name))
        if name == "convert":
            return self._convert(node.args[0], node.args[1])
        if name in names.SYMBOLIC:
            if not self.in_worker:
                raise ToolError(f"{written} is not available here")
            args = [self._argument(a, tuples=name == "integrate") for a in node.args]
            result = symbolic.call(name, args, self.digits)
            return result if isinstance(result, Text) else limits.bound(result)
        return limits.bound(functions.call(name, [self.expr(a) for a in node.args], in_worker=self.in_worker))

    def _argument(self, node: ast.expr, *, tuples: bool) -> Any:
        """An argument of a symbolic function: equations and (x, a, b) tuples allowed."""
        if tuples and isinstance(node, ast.Tuple):
            return tuple(self.expr(e) for e in node.elts)
        if isinstance(node, ast.Compare):
            return self.value(node)
        return self.expr(node)

    def _convert(self, quantity: ast.expr, target: ast.expr) -> Text:
        shown = units.display(self.parsed.segment(target))
        scale = _temperature_scale(target)
        amount = _temperature_amount(quantity)
        if scale is not None and amount is not None:
            value = self.expr(amount[0]) if amount[0] is not None else sympy.Integer(1)
            converted = units.temperature(value, amount[1], scale)
            return Text(f"{self._number_text(converted)} {units.temperature_sign(scale)}")
        inner = Evaluator(self.parsed, digits=self.digits, in_worker=self.in_worker, in_units=True)
        return Text(units.convert(inner.expr(quantity), inner.expr(target), shown, self._number_text))

    def _number_text(self, value: Expr) -> str:
        if value.free_symbols or not value.is_number:
            return fmt.expression(value, self.digits)
        return fmt.number(value, self.digits)


def _is_percent(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == PERCENT


def _tuple_message(written: str, name: str) -> str:
    if name == "sum":
        return "sum adds the numbers it is given, as in sum(1, 2, 3); sums of series, as in sum(f, (k, 1, n)), are not supported"
    return f"{written} takes numbers, not a tuple in parentheses: write {written}(a, b)"


def _count(low: int, high: int) -> str:
    plural = "s" if high != 1 else ""
    if low == high:
        return f"{low} argument{plural}"
    if high >= names.MANY:
        return f"at least {low} argument{'s' if low != 1 else ''}"
    return f"{low} to {high} arguments"


def _temperature_scale(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return units.TEMPERATURES.get(node.id)
    return None


def _temperature_amount(node: ast.expr) -> tuple[ast.expr | None, str] | None:
    """(amount, scale) for `40 degF`, `-40 degF` or `degF`; None for anything else."""
    if isinstance(node, ast.Name) and node.id in units.TEMPERATURES:
        return None, units.TEMPERATURES[node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult) and isinstance(node.right, ast.Name):
        scale = units.TEMPERATURES.get(node.right.id)
        if scale is not None:
            return node.left, scale
    return None
