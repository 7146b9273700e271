"""Results as short text.

- Integers are exact up to 20 digits: `360`, `18446744073709551616`.
- A decimal whose expansion ends within 15 significant digits is exact: `12345.67`,
  `1234567.5`, `0.000123456789`.
- Every other number is rounded (half up) to `digits` significant digits, but below 10^15
  never to fewer than two decimals, so no fraction reads as a whole number: `0.285714`,
  `3.14159`, `176366.71` (1234567 / 7), `314159.27`.
- Magnitudes from 10^15 up (10^digits for more digits) or below 10^-4 use an exponent,
  as in %g: `1.26765e30`, `1.5e-7`.
- Complex numbers read `1 + 2i`. Infinity is `infinity`; equations that hold are `true`.
- Expressions with variables are exact, in sympy's notation: `x**2 + 2*x + 1`.
- A solution shows its exact form and, when that is not already a short decimal, the
  decimal too: `x = 2`, `x = 1/3 ≈ 0.333333`, `x = sqrt(2) ≈ 1.41421`; one found only
  numerically reads `x ≈ 0.739085`.
- Nothing longer than `MAX_RESULT_CHARS` is returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

import mpmath.libmp  # type: ignore[import-untyped]
import sympy
from sympy.core.evalf import PrecisionExhausted

from agent.errors import ToolError
from tools.calculator import limits

Expr = Any
EXACT_INTEGER_DIGITS = 20
SHORT_DECIMAL_DIGITS = 15
"""Significant digits up to which a decimal is shown exactly; also where exponents start."""
MIN_DECIMALS = 2
SHORT_EXACT_CHARS = 24
_EXPONENT_RANGE = 10 * limits.MAX_DECIMAL_EXPONENT


@dataclass(frozen=True)
class Text:
    """A result that is already text: solutions, a factorization, a conversion."""

    text: str


def result(value: Expr | Text, digits: int) -> str:
    """The text spliced after the arrow."""
    if isinstance(value, Text):
        return cap(value.text)
    if value is sympy.true or value is sympy.false:
        return "true" if value is sympy.true else "false"
    if isinstance(value, sympy.Equality):
        return cap(expression(value.lhs, digits) + " = " + expression(value.rhs, digits))
    if not isinstance(value, sympy.Expr):
        return cap(sympy.sstr(value))
    if value.is_number and not value.free_symbols:
        return cap(number(value, digits))
    return cap(expression(value, digits))


def number(value: Expr, digits: int) -> str:
    """A numeric value (real or complex) as a decimal or exact integer."""
    if value.is_Integer:
        if limits.exact_digits(value) < EXACT_INTEGER_DIGITS:
            return str(value)
        return _decimal(Decimal(int(value)), digits)
    if value.is_Rational:
        return _rational(value, digits)
    if value in (sympy.oo, -sympy.oo):
        return "infinity" if value == sympy.oo else "-infinity"
    parts = value.evalf(_precision(digits)).as_real_imag()
    real, imag = _significant(parts[0], parts[1], digits), _significant(parts[1], parts[0], digits)
    if not _is_float_or_zero(real) or not _is_float_or_zero(imag):
        raise ToolError(f"cannot evaluate {sympy.sstr(value)} to a number")
    if _negligible(imag, real, digits):
        return _float(real, digits)
    if _negligible(real, imag, digits):
        return _imaginary(_float(imag, digits))
    real_text, imag_text = _float(real, digits), _float(imag, digits)
    sign = "-" if imag_text.startswith("-") else "+"
    return f"{real_text} {sign} {_imaginary(imag_text.lstrip('-'))}"


def is_exact(value: Expr, digits: int) -> bool:
    """Whether `number(value, digits)` shows `value` without rounding."""
    real, imag = value.as_real_imag()
    return all(_exact_part(part, digits) for part in (real, imag))


def _exact_part(part: Expr, digits: int) -> bool:
    if not part.is_Rational:
        return False
    if part.is_Integer:
        return limits.exact_digits(part) < EXACT_INTEGER_DIGITS
    return _short_decimal(part) is not None


def solution(value: Expr, digits: int) -> str:
    """A solution's value: exact, with a decimal when the exact form is not one."""
    if value.free_symbols or not value.is_number:
        return expression(value, digits)
    approx = number(value, digits)
    if value.is_infinite or is_exact(value, digits):
        return approx
    exact = sympy.sstr(value)
    if len(exact) <= SHORT_EXACT_CHARS and not value.atoms(sympy.Float):
        return f"{exact} ≈ {approx}"
    return approx


def solutions(found: Sequence[dict[Expr, Expr]], variables: Sequence[Expr], digits: int) -> str:
    """`x = -2 or x = 2`; `x = 2, y = 1`; values in terms of free variables when the
    solution is not unique."""
    if not found:
        return "no solution"
    many = len(variables) > 1 and len(found) > 1
    texts = []
    for answer in found:
        parts = [f"{v} {_relation(answer[v])} {solution(answer[v], digits)}" for v in variables if v in answer]
        text = ", ".join(parts) if parts else "any value"
        texts.append(f"({text})" if many else text)
    joined = " or ".join(texts)
    if len(joined) <= limits.MAX_RESULT_CHARS:
        return joined
    kept: list[str] = []
    for text in texts:
        if len(" or ".join([*kept, text])) > limits.MAX_RESULT_CHARS - 30:
            break
        kept.append(text)
    if not kept:
        raise ToolError(f"the solution is too long to show ({len(joined)} characters)")
    return " or ".join(kept) + f" or … ({len(texts)} solutions in all)"


def _relation(value: Expr) -> str:
    """`≈` for a value found numerically, `=` for an exact one."""
    return "≈" if isinstance(value, sympy.Expr) and value.atoms(sympy.Float) else "="


def expression(value: Expr, digits: int) -> str:
    """An expression with variables, floating-point coefficients rounded to `digits`."""
    floats = value.atoms(sympy.Float)
    if floats:
        value = value.xreplace({f: sympy.Float(f, digits) for f in floats})
    return str(sympy.sstr(value, full_prec=False))


def cap(text: str) -> str:
    if len(text) > limits.MAX_RESULT_CHARS:
        raise ToolError(f"the result is too long to show ({len(text)} characters)")
    return text.replace("[", "(").replace("]", ")")


def _rational(value: Expr, digits: int) -> str:
    exact = _short_decimal(value)
    if exact is not None:
        return _layout(exact, Context(prec=SHORT_DECIMAL_DIGITS), SHORT_DECIMAL_DIGITS)
    context = Context(prec=_precision(digits), Emax=_EXPONENT_RANGE, Emin=-_EXPONENT_RANGE)
    return _decimal(context.divide(Decimal(int(value.p)), Decimal(int(value.q))), digits)


def _short_decimal(value: Expr) -> Decimal | None:
    """The fraction `value` as an exact Decimal, if its decimal expansion ends within
    `SHORT_DECIMAL_DIGITS` significant digits."""
    p, q = int(value.p), int(value.q)
    twos = (q & -q).bit_length() - 1
    rest, fives = q >> twos, 0
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        return None
    places = max(twos, fives)
    scaled = str(abs(p) * 10**places // q)
    significant = scaled.rstrip("0")
    if len(significant) > SHORT_DECIMAL_DIGITS:
        return None
    sign = "-" if p < 0 else ""
    return Decimal(f"{sign}{significant}E{len(scaled) - len(significant) - places}")


def _precision(digits: int) -> int:
    """Working digits for a value shown with `digits` (two decimals may need more)."""
    return max(digits, SHORT_DECIMAL_DIGITS + MIN_DECIMALS) + 10


def _is_float_or_zero(part: Expr) -> bool:
    return bool(part.is_Float or part == 0)


def _significant(part: Expr, other: Expr, digits: int) -> Expr:
    """`part`, or 0 when evaluation could only bound it, and the bound is below 10^-digits
    (times `other`, the other part of a complex number): the cancellation of equal terms.
    PrecisionExhausted when the bound is larger, as for pi*10**300 % 1, whose terms
    cancel beyond the working precision."""
    if not _bounded_only(part):
        return part
    scale = 0.0 if other == 0 or _bounded_only(other) else max(limits.log10_abs(other), 0.0)
    if part != 0 and limits.log10_abs(part) > scale - digits:
        raise PrecisionExhausted
    return sympy.Integer(0)


def _bounded_only(part: Expr) -> bool:
    return bool(part.is_Float and part._prec < 10)


def _float(part: Expr, digits: int) -> str:
    if part == 0:
        return "0"
    size = limits.log10_abs(part)
    if abs(size) > limits.MAX_DECIMAL_EXPONENT:
        raise limits.too_large(size)
    return _decimal(Decimal(mpmath.libmp.to_str(part._mpf_, _precision(digits))), digits)


def _negligible(small: Expr, large: Expr, digits: int) -> bool:
    """Whether `small` vanishes beside `large` (so 1 + 1e-30i reads 1)."""
    if small == 0 or large == 0:
        return bool(small == 0)
    return bool(limits.log10_abs(large) - limits.log10_abs(small) > digits + 8)


def _imaginary(text: str) -> str:
    if text in ("1", "-1"):
        return text[:-1] + "i"
    return f"{text}i"


def _decimal(value: Decimal, digits: int) -> str:
    """`value` rounded to `digits` significant digits, or to two decimals if that keeps
    more, trailing zeros dropped."""
    size = value.adjusted() if not value.is_zero() else 0
    positional = max(digits, SHORT_DECIMAL_DIGITS)
    kept = max(digits, size + 1 + MIN_DECIMALS) if 0 <= size < positional else digits
    context = Context(prec=kept, rounding=ROUND_HALF_UP, Emax=_EXPONENT_RANGE, Emin=-_EXPONENT_RANGE)
    return _layout(context.plus(value).normalize(context), context, positional)


def _layout(value: Decimal, context: Context, positional: int) -> str:
    """`value` written out, or with an exponent below 10^-4 or from 10^positional up."""
    if value.is_zero():
        return "0"
    exponent = value.adjusted()
    if -4 <= exponent < positional:
        return format(value, "f")
    mantissa = value.scaleb(-exponent, context)
    return f"{format(mantissa, 'f')}e{exponent}"
