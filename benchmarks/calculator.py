"""Calculator speed: typical expressions, symbolic ones, and hostile input.

Typical expressions (arithmetic, percentages, functions, unit conversions) run in this
process: each is timed `REPEATS` times with sympy's cache cleared first ("cold") and
`REPEATS` times with it warm; the medians are in microseconds. Symbolic expressions run
in the worker process (started and warmed up before timing). Every hostile input must
be dealt with in under `TARGET_SECONDS`: refused, stopped at the time limit, or (when it
has a short answer after all, as 2**(10**6 + 0.5) does) answered.

    python benchmarks/calculator.py
"""

from __future__ import annotations

import statistics
import time

from sympy.core.cache import clear_cache

from agent.errors import ToolError
from tools.calculator import calculate, stop_worker

REPEATS = 30
TARGET_SECONDS = 1.0

TYPICAL = [
    "400 / 1400", "15 * 24", "52.50 - 18.75", "12 / 30 * 100", "(8 + 4) / 3", "2^10", "1,234,567 * 3",
    "15% of 80", "200 + 10%", "80 * 15%", "sqrt(2)", "3.5 * (2 + 7) / 4", "1/3 + 1/6", "2 * pi * 6371",
    "sin(30 deg)", "log(1000, 10)", "e^2", "factorial(12)", "round(3.14159, 2)", "max(3, 7, 5)",
    "gcd(48, 18)", "1e-3 * 250", "(1 + 5%)^10", "120 km/h in m/s", "5 miles in km", "100 °F in °C",
]
SYMBOLIC = [
    "solve(x^2 - 5x + 6 = 0)", "2x + 3 = 7", "solve(x + y = 3, x - y = 1)", "simplify((x^2 - 1)/(x - 1))",
    "expand((x + 1)^5)", "factor(x^3 - 1)", "diff(x^3 sin(x), x)", "integrate(x^2, x, 0, 1)",
    "integrate(x e^x, x)", "limit(sin(x)/x, x, 0)",
]
HOSTILE = [
    "9**9**9**9", "10**10**10", "factorial(10**9)", "binomial(10**6, 5*10**5)", "exp(10**7)",
    "2**(10**6 + 0.5)", "sqrt(10**999)", "(2*x)**100000", "sin(10**400)",
    "(" * 41 + "1" + ")" * 41, "(" * 5000 + "1" + ")" * 5000, "-" * 900 + "1", "+".join(["1"] * 400),
    "1" * 250, "9" * 100_000, "1e99999", "(1).__class__", "__import__('os').system('true')",
    "lambda: 1", "[x for x in range(10**9)]", "import os", "().__class__.__bases__[0].__subclasses__()",
    "tanh(sin(acos(sin(i * 37.3461) + asin(2.5))))", "12 // tanh(10**30)",
    "expand((x + y + z)**1000)", "integrate(exp(x**x**x), x)", "factor(2**256 + 1)", "solve(x**7 - x**3 + 5*x - 11)",
]


def cold_and_warm(expression: str) -> tuple[float, float]:
    cold, warm = [], []
    for _ in range(REPEATS):
        clear_cache()
        start = time.perf_counter()
        calculate(expression)
        cold.append(time.perf_counter() - start)
    for _ in range(REPEATS):
        start = time.perf_counter()
        calculate(expression)
        warm.append(time.perf_counter() - start)
    return statistics.median(cold) * 1e6, statistics.median(warm) * 1e6


def once(expression: str) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        outcome = calculate(expression)
    except ToolError as exc:
        outcome = f"Error: {exc}"
    return time.perf_counter() - start, outcome


def main() -> int:
    start = time.perf_counter()
    calculate("solve(x - 1)")
    print(f"worker start (first symbolic call, includes warm-up): {time.perf_counter() - start:.3f} s\n")

    print(f"typical expressions, in process (median of {REPEATS}, µs):")
    colds, warms = [], []
    for expression in TYPICAL:
        cold, warm = cold_and_warm(expression)
        colds.append(cold)
        warms.append(warm)
        print(f"  {cold:9.0f} cold {warm:9.0f} warm   {expression}  → {calculate(expression)}")
    print(f"  median over expressions: {statistics.median(colds):.0f} µs cold cache, "
          f"{statistics.median(warms):.0f} µs warm cache\n")

    print("symbolic expressions, in the worker process (ms, each timed once, cold cache):")
    times = []
    for expression in SYMBOLIC:
        seconds, outcome = once(expression)
        times.append(seconds)
        print(f"  {seconds * 1e3:7.1f}   {expression}  → {outcome}")
    print(f"  median: {statistics.median(times) * 1e3:.1f} ms\n")

    print(f"hostile input (s, each must be under {TARGET_SECONDS:g} s):")
    worst = 0.0
    failed = 0
    for expression in HOSTILE:
        seconds, outcome = once(expression)
        worst = max(worst, seconds)
        ok = seconds < TARGET_SECONDS
        failed += not ok
        kind = "refused " if outcome.startswith("Error: ") else "answered"
        shown = expression if len(expression) <= 48 else f"{expression[:40]}… ({len(expression)} chars)"
        print(f"  {seconds:6.3f} {'ok  ' if ok else 'FAIL'} {kind} {shown}  → {outcome[:80]}")
    verdict = "PASS" if not failed else f"FAIL ({failed} over target)"
    print(f"  worst case: {worst:.3f} s — {verdict}")
    stop_worker()
    return 0 if not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
