"""The names the calculator knows: functions with their arities, constants, variables."""

from __future__ import annotations

import re

MANY = 64
"""Argument cap of the functions that take any number of arguments."""

PERCENT = "_pct"
"""What `15%` becomes: `_pct(15)`. Names written in the input cannot start with `_`."""

ARITY: dict[str, tuple[int, int]] = {
    "sqrt": (1, 1), "cbrt": (1, 1), "root": (2, 2), "exp": (1, 1),
    "ln": (1, 1), "log": (1, 2), "log10": (1, 1), "log2": (1, 1),
    "sin": (1, 1), "cos": (1, 1), "tan": (1, 1),
    "asin": (1, 1), "acos": (1, 1), "atan": (1, 1), "atan2": (2, 2),
    "sinh": (1, 1), "cosh": (1, 1), "tanh": (1, 1),
    "factorial": (1, 1), "abs": (1, 1), "round": (1, 2), "floor": (1, 1), "ceil": (1, 1),
    "gcd": (2, MANY), "lcm": (2, MANY), "binomial": (2, 2),
    "min": (1, MANY), "max": (1, MANY), "sum": (1, MANY), "mean": (1, MANY),
    "convert": (2, 2),
    "solve": (1, MANY), "simplify": (1, 1), "expand": (1, 1), "factor": (1, 1),
    "diff": (1, MANY), "integrate": (1, 4), "limit": (3, 3),
    PERCENT: (1, 1),
}

ALIASES: dict[str, str] = {
    "arcsin": "asin", "arccos": "acos", "arctan": "atan", "ceiling": "ceil",
    "comb": "binomial", "choose": "binomial", "nCr": "binomial",
    "average": "mean", "avg": "mean", "derivative": "diff", "integral": "integrate",
}

SYMBOLIC = frozenset({"solve", "simplify", "expand", "factor", "diff", "integrate", "limit"})
"""Functions that can run long; they are evaluated in the worker process under a time limit."""

CONSTANTS = frozenset({"pi", "e", "E", "tau", "i", "I", "oo", "inf", "infinity", "deg", "degree", "degrees"})

GREEK = frozenset({"alpha", "beta", "gamma", "delta", "theta", "phi", "psi", "omega", "mu", "sigma", "rho"})

WORDS = frozenset({"in", "to", "of"})
"""Words with a meaning of their own: `120 km/h in m/s`, `15% of 80`."""

_VARIABLE = re.compile(r"[A-Za-z][0-9]*")


def canonical(name: str) -> str:
    """The function a name stands for, aliases resolved."""
    return ALIASES.get(name, name)


def is_function(name: str) -> bool:
    return canonical(name) in ARITY


def takes_one_argument(name: str) -> bool:
    return ARITY.get(canonical(name), (0, 0))[1] == 1


def is_variable(name: str) -> bool:
    """Single letters (with optional digits: x, y2) and Greek letter names are variables."""
    return name not in CONSTANTS and (bool(_VARIABLE.fullmatch(name)) or name in GREEK)
