"""Framework overhead per call, and detector throughput.

1,000 calls of a trivial tool run through the scripted model. Time spent inside the
model's stream is measured and taken out; what is left is detect + dispatch + splice
(plus the loop's bookkeeping), per call. Baselines from the same run: calling the tool
function directly, and a regular expression scanning the same text for calls.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator

from agent import Agent, Tool, tool
from agent.detector import Detector
from agent.models.base import Completion, Request
from agent.testing import ScriptedModel

CALLS = 1_000


@tool(inline=True)
def echo(x: int) -> int:
    """Returns x."""
    return x


@tool
def threaded_echo(x: int) -> int:
    """Returns x, on a worker thread under a time limit."""
    return x


class TimedModel(ScriptedModel):
    """A scripted model that keeps count of the time spent producing its chunks."""

    seconds = 0.0

    def stream(self, request: Request, completion: Completion) -> Iterator[str]:
        start = time.perf_counter()
        inner = super().stream(request, completion)
        self.seconds += time.perf_counter() - start
        while True:
            start = time.perf_counter()
            try:
                chunk = next(inner)
            except StopIteration:
                self.seconds += time.perf_counter() - start
                return
            self.seconds += time.perf_counter() - start
            yield chunk


def overhead_per_call(fn: Tool = echo) -> tuple[float, float]:
    outputs = [f" step {i} [{fn.name}({i})]" for i in range(CALLS)] + [" done"]
    model = TimedModel(outputs, chunk_size=4)
    agent = Agent(model=model, tools=[fn], max_calls=CALLS + 1, max_tokens=10**9, timeout=None,
                  no_progress=CALLS + 1)
    start = time.perf_counter()
    result = agent.run("count")
    total = time.perf_counter() - start
    assert len(result.calls) == CALLS and all(c.ok for c in result.calls)
    tool_seconds = sum(c.seconds for c in result.calls)
    return (total - model.seconds) / CALLS * 1e6, tool_seconds / CALLS * 1e6


def direct_call_us() -> float:
    start = time.perf_counter()
    for i in range(CALLS):
        echo.fn(i)
    return (time.perf_counter() - start) / CALLS * 1e6


def detector_mb_s(text: str, chunk: int = 16) -> float:
    pieces = [text[i : i + chunk] for i in range(0, len(text), chunk)]
    start = time.perf_counter()
    detector = Detector()
    for piece in pieces:
        detector.feed(piece)
    detector.finish()
    return len(text.encode()) / (time.perf_counter() - start) / 1e6


def regex_mb_s(text: str) -> float:
    pattern = re.compile(r"\[(\w+)\(([^()]*)\)\s*(?:\]|→|->)")
    start = time.perf_counter()
    sum(1 for _ in pattern.finditer(text))
    return len(text.encode()) / (time.perf_counter() - start) / 1e6


def main() -> None:
    runs = [overhead_per_call() for _ in range(3)]
    per_call = statistics.median(r[0] for r in runs)
    in_tool = statistics.median(r[1] for r in runs)
    threaded = statistics.median(overhead_per_call(threaded_echo)[0] for _ in range(3))
    direct = direct_call_us()
    print(f"calls per run: {CALLS}")
    print(f"detect + dispatch + splice, inline tool: {per_call:.1f} µs per call (target < 30)")
    print(f"  of which binding, running and formatting the call: {in_tool:.1f} µs")
    print(f"  baseline, calling the function directly: {direct:.2f} µs ({per_call / direct:.0f}x)")
    print(f"detect + dispatch + splice, tool on a worker thread under a time limit: {threaded:.1f} µs per call")
    prose = ("Out of 1400 participants, 400 passed the test; the rest did not. " * 4000)
    dense = ("Out of 1400, 400 (or [Calculator(400 / 1400) → 0.29] 29%) passed. " * 4000)
    for label, text in (("prose", prose), ("call-dense", dense)):
        mb_s = statistics.median(detector_mb_s(text) for _ in range(3))
        base = statistics.median(regex_mb_s(text) for _ in range(3))
        print(f"detector throughput, {label}: {mb_s:.1f} MB/s (16-char chunks); regex scan baseline {base:.0f} MB/s")


if __name__ == "__main__":
    main()
