"""CPU time to start the command line, against `python -c pass` in the same run.

`agent --help` and `agent runs` (on an empty home) are each started REPEAT times; the
median CPU time (user + system, of the child process) is compared with the median of
`python -c pass`. Target: each under 5x the baseline, which holds when the tools and the
model backends load their heavy dependencies (sympy, ddgs, llama_cpp, openai) on first
use, not when the command line starts.

    python benchmarks/startup.py [--repeat 9]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile


def cpu_seconds(command: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, INTERLEAF_HOME=home)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "agent --help": [sys.executable, "-m", "agent.cli", "--help"],
            "agent runs": [sys.executable, "-m", "agent.cli", "runs"],
        }
        times = {label: [] for label in commands}  # type: dict[str, list[float]]
        for _ in range(args.repeat):
            for label, command in commands.items():
                times[label].append(cpu_seconds(command, env))
    base = statistics.median(times["python -c pass"])
    print(f"python -c pass: {base * 1000:.0f} ms CPU (median of {args.repeat})")
    for label in ("agent --help", "agent runs"):
        median = statistics.median(times[label])
        print(f"{label}: {median * 1000:.0f} ms CPU, {median / base:.1f}x python -c pass (target < 5x)")


if __name__ == "__main__":
    main()
