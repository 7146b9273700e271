"""Size bounds checked before anything is computed, so hostile input fails fast.

Numbers are sympy values. Exact integers and fractions may have up to
`MAX_EXACT_DIGITS` digits; past that a value is carried as a floating-point number with
`WORKING_DIGITS` significant digits, as long as its decimal exponent stays within
`MAX_DECIMAL_EXPONENT`. Powers, factorials and binomials are estimated before they are
computed.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import sympy

from agent.errors import ToolError

MAX_INPUT_CHARS = 1000
MAX_LITERAL_DIGITS = 200
MAX_LITERAL_EXPONENT = 1000
MAX_NESTING = 40
MAX_AST_DEPTH = 100
MAX_AST_NODES = 400
MAX_EXACT_DIGITS = 1000
MAX_ROOT_DIGITS = 100
MAX_ROOT_DEGREE = 24
MAX_DECIMAL_EXPONENT = 1_000_000
MAX_SYMBOLIC_EXPONENT = 1000
MAX_PERIODIC_DIGITS = 300
MAX_COMPLEX_ARGUMENT = 1e9
MAX_EXP_ARGUMENT = MAX_DECIMAL_EXPONENT * math.log(10)
MAX_RESULT_CHARS = 200
MAX_DIGITS = 30
WORKING_DIGITS = 40

Expr = Any
"""A sympy expression (sympy is untyped)."""


class NeedsWorker(Exception):
    """Raised in this process by an operation that may need unbounded precision, such as
    floor(x) for an x extremely close to a whole number; the engine then evaluates the
    expression again in the worker process, under the time limit."""


def check_nesting(name: str, args: list[Expr] | tuple[Expr, ...], in_worker: bool) -> None:
    """Raise NeedsWorker, outside the worker, when a function would get a number that is
    itself a function's value, as in tanh(sin(...)): sympy's automatic evaluation of
    nested functions can run for minutes, so those are evaluated under the time limit."""
    if in_worker:
        return
    for arg in args:
        if arg.is_number and arg.atoms(sympy.Function):
            raise NeedsWorker(name)


def check_decidable(name: str, args: list[Expr] | tuple[Expr, ...], in_worker: bool) -> None:
    """Raise NeedsWorker when `name` (floor, ceil, a remainder, min, max) gets anything
    but an exact fraction or a floating-point value (an irrational number, an expression
    with variables), outside the worker."""
    if in_worker:
        return
    for arg in args:
        if not (arg.is_Rational or arg.is_Float or arg.is_infinite):
            raise NeedsWorker(name)


def check_remainder(left: Expr, right: Expr) -> None:
    """Refuse left % right when left is approximate and so large beside right that its
    precision ends before the units digit: the remainder would be noise."""
    floats = [f for side in (left, right) for f in side.atoms(sympy.Float) if f != 0]
    if not floats or not (left.is_number and right.is_number) or left == 0:
        return
    precise_digits = min(f._prec for f in floats) * math.log10(2)
    if log10_abs(left) - log10_abs(right) >= precise_digits:
        raise ToolError("the result cannot be computed precisely enough")


def log10_abs(value: Expr) -> float:
    """log10 of |value| for a nonzero number, from its exact parts or a quick estimate."""
    if value.is_Rational:
        p, q = abs(int(value.p)), int(value.q)
        if q < 2 * p < 4 * q:
            return math.log1p(float(Fraction(p - q, q))) / math.log(10)
        return _log10_int(p) - _log10_int(q)
    if value.is_Float:
        sign, man, exp, bc = value._mpf_
        if not man:
            return -math.inf
        shift = max(bc - 53, 0)
        return float((math.log2(man >> shift) + shift + exp) * math.log10(2))
    real, imag = value.evalf(15).as_real_imag()
    if (real.is_Float or real == 0) and (imag.is_Float or imag == 0):
        return max(log10_abs(real) if real else -math.inf, log10_abs(imag) if imag else -math.inf)
    raise ToolError(f"cannot estimate the size of {sympy.sstr(value)}")


def _log10_int(n: int) -> float:
    bits = n.bit_length()
    if bits < 1000:
        return math.log10(n) if n else -math.inf
    shift = bits - 60
    return math.log10(n >> shift) + shift * math.log10(2)


def exact_digits(value: Expr) -> float:
    """Digits needed to write the integer or fraction `value` exactly."""
    p, q = abs(int(value.p)), int(value.q)
    return max(_log10_int(p) if p else 0.0, _log10_int(q))


def too_large(exponent: float) -> ToolError:
    word = "large" if exponent > 0 else "small"
    if not math.isfinite(exponent):
        return ToolError(f"the result is too {word}")
    if abs(exponent) >= 1e15:
        return ToolError(f"the result is too {word} (about 10^({exponent:.3g}))")
    return ToolError(f"the result is too {word} (about 10^{exponent:.0f})")


def bound(value: Expr) -> Expr:
    """`value`, with exact numbers that grew past `MAX_EXACT_DIGITS` made approximate;
    raises ToolError for infinities, undefined values and magnitudes out of range."""
    if value.has(sympy.zoo):
        raise ToolError("division by zero")
    if value.has(sympy.nan):
        raise ToolError("the result is undefined")
    replace: dict[Expr, Expr] = {}
    for atom in value.atoms(sympy.Number):
        if atom.is_Rational and exact_digits(atom) > MAX_EXACT_DIGITS:
            replace[atom] = _approximate(atom)
        elif atom.is_Float and atom != 0:
            _check_exponent(log10_abs(atom))
    if not replace:
        return value
    approximate = value.xreplace(replace)
    if value.is_Add and value.is_number:
        _check_cancellation(approximate, max(log10_abs(a) for a in replace))
    return approximate


def _check_cancellation(value: Expr, largest: float) -> None:
    """Refuse a sum whose terms, made approximate, cancel beyond the working precision,
    as in floor(x) + frac for x near 10^1000: what is left would be rounding noise."""
    if value == 0 or log10_abs(value) < largest - (WORKING_DIGITS - 10):
        raise ToolError("the result cannot be computed precisely enough")


def _approximate(value: Expr) -> Expr:
    _check_exponent(log10_abs(value))
    return sympy.Float(value, WORKING_DIGITS)


def _check_exponent(exponent: float) -> None:
    if abs(exponent) > MAX_DECIMAL_EXPONENT:
        raise too_large(exponent)


def power(base: Expr, exponent: Expr, *, in_worker: bool = True) -> Expr:
    """base ** exponent, estimated first: exact while the result stays short, approximate
    while its magnitude is in range, else a ToolError."""
    if not (base.is_number and exponent.is_number) or base.free_symbols or exponent.free_symbols:
        return _symbolic_power(base, exponent)
    if not exponent.is_Integer:
        check_nesting("power", (base, exponent), in_worker)
    if base == 0:
        if exponent.is_extended_negative:
            raise ToolError("division by zero")
        return base**exponent
    if exponent == 0:
        return sympy.Integer(1)
    if base in _UNITS and exponent.is_extended_real:
        return base**exponent
    if base.is_Rational and not exponent.is_Integer and exact_digits(base) > MAX_ROOT_DIGITS:
        base = _approximate(base)
    size = log10_power(base, exponent)
    if abs(size) > MAX_DECIMAL_EXPONENT:
        raise too_large(size)
    if not (exponent.is_Integer and base.is_extended_real) and _turn(base, exponent) > MAX_COMPLEX_ARGUMENT:
        raise ToolError("this power of a complex number cannot be computed accurately")
    if base.is_Rational and exponent.is_Integer:
        count = abs(int(exponent))
        if count <= MAX_EXACT_DIGITS and count * exact_digits(base) <= MAX_EXACT_DIGITS:
            return base**exponent
        precision = max(WORKING_DIGITS, int(exact_digits(base)) + 20)
        return sympy.Float(base, precision) ** exponent
    if abs(size) > MAX_EXACT_DIGITS or _numeric_power(base, exponent):
        return base.evalf(WORKING_DIGITS) ** exponent.evalf(WORKING_DIGITS)
    return base**exponent


_UNITS = (sympy.Integer(1), sympy.Integer(-1), sympy.I, -sympy.I)
"""Bases whose powers sympy reduces exactly, whatever the exponent."""


def log10_power(base: Expr, exponent: Expr) -> float:
    """log10 |base ** exponent| = Re(z) log10|b| - Im(z) arg(b) / ln 10, for z = exponent."""
    real, imag = _parts(exponent)
    size, angle = _polar(base)
    return _times(real, size) - _times(imag, angle / math.log(10))


def _turn(base: Expr, exponent: Expr) -> float:
    """The angle of base ** exponent before reduction, |Im(z) ln|b|| + |Re(z) arg(b)|."""
    real, imag = _parts(exponent)
    size, angle = _polar(base)
    return abs(_times(imag, size * math.log(10))) + abs(_times(real, angle))


def _parts(value: Expr) -> tuple[float, float]:
    real, imag = value.evalf(15).as_real_imag()
    return _as_float(real), _as_float(imag)


def _polar(value: Expr) -> tuple[float, float]:
    """(log10 |value|, arg value) of a nonzero number, computed numerically."""
    if value.is_Rational or value.is_Float:
        return log10_abs(value), (math.pi if value < 0 else 0.0)
    real, imag = value.evalf(15).as_real_imag()
    return log10_abs(value), math.atan2(_as_float(imag), _as_float(real))


def check_complex_argument(name: str, value: Expr) -> None:
    """sympy's numeric evaluation loses accuracy for functions of complex numbers of
    large size; refuse those rather than answer wrongly."""
    if not value.is_number:
        return
    real, imag = _parts(value)
    if imag != 0 and math.hypot(real, imag) > MAX_COMPLEX_ARGUMENT:
        raise ToolError(f"{name} of a complex number this large cannot be computed accurately")


def _as_float(value: Expr) -> float:
    try:
        return float(value)
    except (TypeError, OverflowError):
        return math.inf


def _times(a: float, b: float) -> float:
    return 0.0 if a == 0 or b == 0 else a * b


def _numeric_power(base: Expr, exponent: Expr) -> bool:
    """Whether to compute a power numerically: sympy is slow at exact roots of high degree
    (b**0.000567 is a root of degree 10^6), and a floating-point side makes it inexact anyway."""
    if base.is_Float or exponent.is_Float:
        return True
    return bool(exponent.is_Rational and exponent.q > MAX_ROOT_DEGREE)


def _symbolic_power(base: Expr, exponent: Expr) -> Expr:
    if exponent.is_number and not exponent.free_symbols:
        magnitude = float(abs(exponent).evalf(15))
        if magnitude > MAX_SYMBOLIC_EXPONENT:
            raise ToolError(
                f"exponent {exponent} is too large for a power of variables or units (at most {MAX_SYMBOLIC_EXPONENT})"
            )
        coefficients = [a for a in base.atoms(sympy.Number) if a != 0]
        largest = max((abs(log10_abs(a)) for a in coefficients), default=0.0)
        if magnitude * largest > MAX_EXACT_DIGITS:
            raise too_large(magnitude * largest)
    return base**exponent


def log10_factorial(n: int) -> float:
    return math.lgamma(n + 1) / math.log(10)


def log10_binomial(n: int, k: int) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(10)
