"""How fast the Python sandbox is: cold start and warm round trip, beside a plain
`python -c pass` subprocess measured in the same run, each baseline run interleaved with
the cold starts (bare, and with numpy and sympy mounted) so drift of the machine's load
affects them alike; the load average is printed with the numbers.

    python benchmarks/sandbox.py [--warm N] [--cold N]

Targets: warm call ≤ 2 ms, cold start (start plus first call) ≤ 150 ms, fully isolated
and contained (the containment used is printed: cgroups where the host offers them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.python import Sandbox  # noqa: E402

WARM_TARGET_MS = 2.0
COLD_TARGET_MS = 150.0


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of each of `repeat` runs of `fn`."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def plain_python() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def cold_start(packages: tuple[str, ...]) -> Callable[[], None]:
    def run() -> None:
        with Sandbox(packages=packages) as sb:
            result = sb.run("pass")
            assert result.ok, result
    return run


def interleaved(fns: list[Callable[[], object]], repeat: int) -> list[list[float]]:
    """Milliseconds of each fn, run in turn `repeat` times: A B A B ..."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, out in zip(fns, times):
            out += timed(fn, 1)
    return times


def describe(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"{name:<36} median {statistics.median(times):8.3f} ms   min {ordered[0]:8.3f} ms   "
        f"p95 {p95:8.3f} ms   (n={len(times)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm", type=int, default=2000, help="warm calls to time")
    parser.add_argument("--cold", type=int, default=20, help="cold starts to time")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    plain, cold, cold_packages = interleaved([plain_python, cold_start(()), cold_start(("numpy", "sympy"))], args.cold)
    with Sandbox() as sb:
        sb.run("x = 0")
        timed(lambda: sb.run("x += 1"), 100)  # let the process settle
        warm = timed(lambda: sb.run("x += 1"), args.warm)
        warm_value = timed(lambda: sb.run("x"), args.warm)
        for guarantee, mechanism in sb.guarantees.items():
            print(f"{guarantee}: {mechanism}")
        print()

    plain_ms = statistics.median(plain)
    warm_ms = statistics.median(warm)
    cold_ms = statistics.median(cold)
    print(describe("python -c pass (subprocess)", plain))
    print(describe("cold: start + first call", cold))
    print(describe("cold, numpy and sympy mounted", cold_packages))
    print(describe("warm call (statement)", warm))
    print(describe("warm call (expression value)", warm_value))
    print()
    print(f"load average: {load:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} cores")
    print(f"cold / python -c pass: {cold_ms / plain_ms:6.2f}x")
    print(f"cold with packages / python -c pass: {statistics.median(cold_packages) / plain_ms:6.2f}x")
    print(f"warm / python -c pass: {warm_ms / plain_ms:6.3f}x")
    print(f"warm target ≤ {WARM_TARGET_MS} ms: {'met' if warm_ms <= WARM_TARGET_MS else 'MISSED'} ({warm_ms:.3f} ms)")
    print(f"cold target ≤ {COLD_TARGET_MS} ms: {'met' if cold_ms <= COLD_TARGET_MS else 'MISSED'} ({cold_ms:.1f} ms)")


if __name__ == "__main__":
    main()
