"""The numeric functions, each bounded before it computes.

`log(x)` is the natural logarithm (`log(x, b)` has base b; `log10`, `log2`, `ln` exist
too). Angles are in radians; `30 deg` or `30°` converts degrees. `round` rounds half away
from zero. `gcd`, `lcm`, `binomial` and `factorial` take whole numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import sympy

from agent.errors import ToolError
from tools.calculator import limits
from tools.calculator.names import PERCENT

Expr = Any
Function = Callable[[Sequence[Expr]], Expr]
MAX_ROUND_PLACES = 100
MAX_BINOMIAL_N = 10**6


DECIDING = frozenset({"floor", "ceil", "min", "max", "atan2"})
"""Functions that compare numbers: exact only with unbounded precision near ties."""
PLAIN = frozenset({PERCENT, "sum", "mean", "gcd", "lcm", "factorial", "binomial"})
TRANSCENDENTAL = frozenset({"exp", "sin", "cos", "tan", "sinh", "cosh", "tanh"})
"""Functions that never evaluate a function of a function."""


def call(name: str, args: Sequence[Expr], *, in_worker: bool) -> Expr:
    function = _FUNCTIONS.get(name)
    if function is None:
        raise ToolError(f"unknown function {name!r}")
    if name in DECIDING:
        limits.check_decidable(name, list(args), in_worker)
    if name not in PLAIN:
        limits.check_nesting(name, list(args), in_worker)
    if name in TRANSCENDENTAL:
        limits.check_complex_argument(name, args[0])
    for arg in args:
        if isinstance(arg, tuple):
            raise ToolError(f"{name} does not take a tuple; write {name}(a, b)")
    try:
        return function(args)
    except (TypeError, ValueError, ArithmeticError, NotImplementedError) as exc:
        raise ToolError(f"{name}: {str(exc) or type(exc).__name__}") from None


def _root(x: Expr, n: Expr) -> Expr:
    if not n.is_Integer or n == 0:
        raise ToolError("root(x, n) needs a whole number n other than 0")
    if x.is_number and x.is_extended_negative and n % 2 == 1:
        return -limits.power(-x, 1 / n)
    return limits.power(x, 1 / n)


def _log(args: Sequence[Expr]) -> Expr:
    x = args[0]
    if x.is_zero:
        raise ToolError("the logarithm of 0 is undefined")
    if len(args) == 1:
        return sympy.log(x)
    base = args[1]
    if base.is_zero or base == 1:
        raise ToolError(f"a logarithm cannot have base {base}")
    return sympy.log(x, base)


def _exp(x: Expr) -> Expr:
    if x.is_number:
        real = float(sympy.re(x).evalf(15)) if not x.is_Float else float(x)
        if abs(real) > limits.MAX_EXP_ARGUMENT:
            raise limits.too_large(real / math.log(10))
    return sympy.exp(x)


def _periodic(function: Callable[[Expr], Expr]) -> Function:
    def apply(args: Sequence[Expr]) -> Expr:
        x = args[0]
        if x.is_number and x != 0 and limits.log10_abs(x) > limits.MAX_PERIODIC_DIGITS:
            raise ToolError(f"the argument of {function.__name__} is too large")
        return function(x)

    return apply


def _hyperbolic(function: Callable[[Expr], Expr]) -> Function:
    def apply(args: Sequence[Expr]) -> Expr:
        _exp(args[0])
        return function(args[0])

    return apply


def whole(x: Expr, name: str) -> int:
    if x.is_Float and limits.log10_abs(x) > limits.MAX_EXACT_DIGITS:
        raise ToolError(
            f"{name} works on whole numbers of up to {limits.MAX_EXACT_DIGITS} digits; this one has about "
            f"{int(limits.log10_abs(x)) + 1}, so it is only known approximately"
        )
    if not x.is_Integer:
        raise ToolError(f"{name} needs whole numbers, got {sympy.sstr(x)}")
    return int(x)


def _factorial(x: Expr) -> Expr:
    if x.free_symbols:
        return sympy.factorial(x)
    n = whole(x, "factorial")
    if n < 0:
        raise ToolError("factorial needs a number that is 0 or more")
    size = limits.log10_factorial(n)
    if size > limits.MAX_DECIMAL_EXPONENT:
        raise ToolError(f"factorial({n}) is too large (about 10^{size:.0f})")
    if size > limits.MAX_EXACT_DIGITS:
        return sympy.gamma(sympy.Float(n + 1, limits.WORKING_DIGITS))
    return sympy.factorial(n)


def _binomial(n_expr: Expr, k_expr: Expr) -> Expr:
    if n_expr.free_symbols or k_expr.free_symbols:
        return sympy.binomial(n_expr, k_expr)
    n, k = whole(n_expr, "binomial"), whole(k_expr, "binomial")
    if n < 0 or k < 0:
        raise ToolError("binomial needs numbers that are 0 or more")
    if k > n:
        return sympy.Integer(0)
    if n > MAX_BINOMIAL_N or limits.log10_binomial(n, k) > limits.MAX_EXACT_DIGITS:
        raise ToolError(f"binomial({n}, {k}) is too large")
    return sympy.binomial(n, k)


def _round(args: Sequence[Expr]) -> Expr:
    x = args[0]
    places = whole(args[1], "round") if len(args) > 1 else 0
    if abs(places) > MAX_ROUND_PLACES:
        raise ToolError(f"round to at most {MAX_ROUND_PLACES} places")
    if x.free_symbols or not x.is_number:
        raise ToolError("round needs a number")
    if not x.is_extended_real:
        raise ToolError("round needs a real number")
    if x.is_Float or not x.is_Rational and limits.log10_abs(x) > limits.MAX_EXACT_DIGITS:
        return x if x.is_Float else x.evalf(limits.WORKING_DIGITS)
    if not x.is_Rational:
        size = max(limits.log10_abs(x), 0.0) if x != 0 else 0.0
        x = sympy.Rational(x.evalf(int(size) + abs(places) + 20))
    scale = sympy.Integer(10) ** places
    magnitude = sympy.floor(abs(x) * scale + sympy.Rational(1, 2))
    return sympy.sign(x) * magnitude / scale


def _integer_reduce(name: str, op: Callable[[int, int], int]) -> Function:
    def apply(args: Sequence[Expr]) -> Expr:
        values = [whole(a, name) for a in args]
        total = values[0]
        for value in values[1:]:
            total = op(total, value)
        return limits.bound(sympy.Integer(total))

    return apply


def _extreme(pick: Callable[..., Expr]) -> Function:
    def apply(args: Sequence[Expr]) -> Expr:
        for arg in args:
            if arg.is_number and arg.is_extended_real is False:
                raise ToolError(f"cannot compare the complex number {sympy.sstr(arg)}")
        return pick(*args)

    return apply


def _floor_or_ceiling(function: Callable[[Expr], Expr]) -> Function:
    def apply(args: Sequence[Expr]) -> Expr:
        x = args[0]
        if x.is_Float and limits.log10_abs(x) > limits.MAX_EXACT_DIGITS:
            return x
        return function(x)

    return apply


def _atan2(y: Expr, x: Expr) -> Expr:
    if any(a.is_number and a.is_extended_real is False for a in (y, x)):
        raise ToolError("atan2 needs real numbers")
    return sympy.atan2(y, x)


def _cbrt(x: Expr) -> Expr:
    return _root(x, sympy.Integer(3))


_FUNCTIONS: dict[str, Function] = {
    PERCENT: lambda a: a[0] / 100,
    "sqrt": lambda a: limits.power(a[0], sympy.Rational(1, 2)),
    "cbrt": lambda a: _cbrt(a[0]),
    "root": lambda a: _root(a[0], a[1]),
    "exp": lambda a: _exp(a[0]),
    "ln": lambda a: _log(a[:1]),
    "log": _log,
    "log10": lambda a: _log([a[0], sympy.Integer(10)]),
    "log2": lambda a: _log([a[0], sympy.Integer(2)]),
    "sin": _periodic(sympy.sin), "cos": _periodic(sympy.cos), "tan": _periodic(sympy.tan),
    "asin": lambda a: sympy.asin(a[0]), "acos": lambda a: sympy.acos(a[0]), "atan": lambda a: sympy.atan(a[0]),
    "atan2": lambda a: _atan2(a[0], a[1]),
    "sinh": _hyperbolic(sympy.sinh), "cosh": _hyperbolic(sympy.cosh), "tanh": lambda a: sympy.tanh(a[0]),
    "factorial": lambda a: _factorial(a[0]),
    "abs": lambda a: sympy.Abs(a[0]),
    "round": _round,
    "floor": _floor_or_ceiling(sympy.floor), "ceil": _floor_or_ceiling(sympy.ceiling),
    "gcd": _integer_reduce("gcd", math.gcd), "lcm": _integer_reduce("lcm", math.lcm),
    "binomial": lambda a: _binomial(a[0], a[1]),
    "min": _extreme(sympy.Min), "max": _extreme(sympy.Max),
    "sum": lambda a: sympy.Add(*a),
    "mean": lambda a: sympy.Add(*a) / len(a),
}
