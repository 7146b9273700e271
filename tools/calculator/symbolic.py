"""Algebra and calculus: solve, simplify, expand, factor, diff, integrate, limit.

These can run long, so the engine evaluates them in the worker process under a time
limit. The variable may be left out when the expression has only one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sympy

from agent.errors import ToolError
from tools.calculator import format as fmt
from tools.calculator.format import Text

Expr = Any
Arg = Any
"""An evaluated argument: a sympy value, or a tuple of them for integrate's (x, a, b)."""
MAX_DERIVATIVE_ORDER = 100


def call(name: str, args: Sequence[Arg], digits: int) -> Expr | Text:
    if name != "integrate" and any(isinstance(a, tuple) for a in args):
        raise ToolError(f"{name} does not take a tuple")
    try:
        if name == "solve":
            return Text(solve(args, digits))
        if name == "simplify":
            return sympy.simplify(args[0])
        if name == "expand":
            return sympy.expand(args[0])
        if name == "factor":
            return _factor(args[0])
        if name == "diff":
            return _diff(args)
        if name == "integrate":
            return _integrate(args, digits)
        if name == "limit":
            return _limit(args)
    except (NotImplementedError, ValueError, TypeError, ArithmeticError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ToolError(f"{name} failed: {reason}") from None
    raise ToolError(f"unknown function {name!r}")


def solve(args: Sequence[Expr], digits: int) -> str:
    equations: list[Expr] = []
    variables: list[Expr] = []
    for i, arg in enumerate(args):
        if i and arg.is_Symbol:
            variables.append(arg)
        else:
            equations.append(_as_zero(arg))
    if any(eq is sympy.false for eq in equations):
        return "no solution"
    if not variables:
        variables = sorted(set().union(*(eq.free_symbols for eq in equations if eq is not sympy.true)), key=str)
    equations = [eq for eq in equations if eq is not sympy.true and eq != 0]
    if not equations:
        return "true for every value" if variables else "true"
    if not variables:
        raise ToolError("there is nothing to solve for: the equation has no variable")
    try:
        found = sympy.solve(_one_or_all(equations), _one_or_all(variables), dict=True)
    except NotImplementedError:
        found = _solve_harder(equations, variables, digits)
    if not found and len(equations) == 1 and sympy.simplify(equations[0]) == 0:
        return "true for every value"
    if len(equations) == len(variables) == 1 and any(v.has(sympy.CRootOf) for a in found for v in a.values()):
        found = _numeric_roots(equations[0], variables[0], digits) or found
    return fmt.solutions(found, variables, digits)


def _solve_harder(equations: list[Expr], variables: list[Expr], digits: int) -> list[dict[Expr, Expr]]:
    """When sympy has no method: for real variables if the equations have |x|, else
    numerically (one equation in one variable), else NotImplementedError."""
    if any(eq.has(sympy.Abs) for eq in equations):
        real = {v: sympy.Symbol(v.name, real=True) for v in variables}
        back = {r: v for v, r in real.items()}
        found = sympy.solve([eq.xreplace(real) for eq in equations], list(real.values()), dict=True)
        return [{back[k]: value.xreplace(back) for k, value in answer.items()} for answer in found]
    if len(equations) == len(variables) == 1:
        roots = _numeric_solutions(equations[0], variables[0], digits)
        if roots:
            return roots
    raise NotImplementedError("no method found for this equation")


NUMERIC_STARTS = (0, 1, -1, 3, -3, 10, -10, 100, -100)


def _numeric_solutions(equation: Expr, variable: Expr, digits: int) -> list[dict[Expr, Expr]]:
    """Real roots found by Newton's method from a few starting points; two roots closer
    than the precision are one (the one where the equation is nearer zero)."""
    found: list[Expr] = []
    for start in NUMERIC_STARTS:
        try:
            root = sympy.nsolve(equation, variable, start, prec=digits + 5)
        except (ValueError, ZeroDivisionError, TypeError):
            continue
        if not root.is_real:
            continue
        same = next((i for i, known in enumerate(found) if _close(root, known, digits)), None)
        if same is None:
            found.append(root)
        elif _residual(equation, variable, root) < _residual(equation, variable, found[same]):
            found[same] = root
    return [{variable: root} for root in sorted(found)]


def _close(a: Expr, b: Expr, digits: int) -> bool:
    return bool(abs(a - b) <= sympy.Float(10) ** -(digits + 2) * max(1, abs(a), abs(b)))


def _residual(equation: Expr, variable: Expr, root: Expr) -> Expr:
    return abs(equation.subs(variable, root).evalf(15))


def _numeric_roots(equation: Expr, variable: Expr, digits: int) -> list[dict[Expr, Expr]]:
    """The roots of a polynomial sympy can only give as CRootOf, numerically (fast)."""
    try:
        roots = sympy.Poly(equation, variable).nroots(n=digits + 5)
    except (sympy.PolynomialError, NotImplementedError, ValueError):
        return []
    return [{variable: root} for root in dict.fromkeys(roots)]


def _one_or_all(items: list[Expr]) -> Expr | list[Expr]:
    """sympy.solve finds more for one equation or variable given alone than in a list."""
    return items[0] if len(items) == 1 else items


def _as_zero(value: Expr) -> Expr:
    """An equation as an expression that is zero, or sympy's true or false."""
    if value is sympy.true or value is sympy.false:
        return value
    if isinstance(value, sympy.Equality):
        return value.lhs - value.rhs
    if isinstance(value, sympy.Expr):
        return value
    raise ToolError(f"solve needs equations, got {sympy.sstr(value)}")


def _only_variable(value: Expr, name: str) -> Expr:
    found = sorted(value.free_symbols, key=str)
    if len(found) == 1:
        return found[0]
    if not found:
        raise ToolError(f"{name} needs an expression with a variable")
    listed = ", ".join(str(s) for s in found)
    raise ToolError(f"{name} needs the variable: the expression has {listed}")


def _factor(value: Expr) -> Expr | Text:
    if not value.is_Integer or abs(value) < 2:
        return sympy.factor(value)
    parts = ["-1"] if value < 0 else []
    for prime, power in sorted(sympy.factorint(abs(int(value))).items()):
        parts.append(str(prime) if power == 1 else f"{prime}^{power}")
    return Text(" * ".join(parts))


def _diff(args: Sequence[Expr]) -> Expr:
    spec: list[Expr] = []
    for arg in args[1:]:
        if arg.is_Symbol:
            spec.append(arg)
        elif arg.is_Integer and 1 <= arg <= MAX_DERIVATIVE_ORDER:
            spec.append(int(arg))
        else:
            raise ToolError(f"diff takes variables and orders from 1 to {MAX_DERIVATIVE_ORDER}, as in diff(f, x, 2)")
    if not spec or not isinstance(spec[0], sympy.Symbol):
        spec.insert(0, _only_variable(args[0], "diff"))
    return sympy.diff(args[0], *spec)


def _integrate(args: Sequence[Arg], digits: int) -> Expr:
    f, rest = args[0], list(args[1:])
    if isinstance(f, tuple):
        raise ToolError("integrate needs an expression first")
    if len(rest) == 1 and isinstance(rest[0], tuple):
        rest = list(rest[0])
        if len(rest) != 3:
            raise ToolError("write the bounds as integrate(f, (x, a, b))")
    if any(isinstance(r, tuple) for r in rest):
        raise ToolError("write the bounds as integrate(f, x, a, b)")
    if len(rest) in (0, 2):
        rest.insert(0, _only_variable(f, "integrate"))
    variable, bounds = rest[0], rest[1:]
    if not variable.is_Symbol:
        raise ToolError(f"integrate needs a variable, got {sympy.sstr(variable)}")
    if not bounds:
        found = sympy.integrate(f, variable)
        if found.has(sympy.Integral):
            raise ToolError("no closed form found for this integral")
        return found
    found = sympy.integrate(f, (variable, *bounds))
    if found.has(sympy.Integral):
        found = sympy.Integral(f, (variable, *bounds)).evalf(digits + 5)
        if found.has(sympy.Integral) or not found.is_number:
            raise ToolError("could not evaluate this integral")
    return found


def _limit(args: Sequence[Expr]) -> Expr:
    f, variable, point = args
    if not variable.is_Symbol:
        raise ToolError(f"limit needs a variable, as in limit(sin(x)/x, x, 0); got {sympy.sstr(variable)}")
    return sympy.limit(f, variable, point)
