"""Framework overhead per call at realistic call shapes, and detector throughput.

Runs of N calls (200 and 6,400) go through the scripted model, for three call shapes:
one integer (`[echo(17)]`), two keyword arguments (`[add(a=17, b=2)]`) and one raw string
of 200 characters (`[note(The committee met on ...)]`), each with an inline tool and with
the default tool (worker thread under a time limit). The CPU time the model spends
producing its chunks is measured and taken out, and so is the cost of measuring it (two
thread-CPU clock readings per request, system calls, calibrated in the same run); what is
left (detect + parse + dispatch + splice + the loop's bookkeeping) is reported per call.
The model records nothing (`ScriptedModel(record=False)`): a recording model compares each
prompt with the one before, a read of the whole transcript per request, which at 6,400
calls of 200-character strings (1.7 MB of transcript) is the model's cost and crowds the
caches the loop runs in; `--record` measures with it.

Targets: under 30 µs CPU per call inline and under 45 µs with the default tool, for every
shape; flat: the 6,400-call cost within 1.2x of the 200-call cost. Baselines from the
same run: calling the function directly, and a regular expression scanning the text.

When smolagents is installed (`pip install -e '.[bench]'`), its ToolCallingAgent runs the
same calls (a scripted model replying with one tool call per step, its generation time
taken out the same way, logging off) at the smallest number of calls, and the ratio of
its cost per call to the default tool's is printed; target: at least 20x.

The default tool's hand-off to a worker thread is also measured alone, with the worker
placed on its caller's CPU (what `agent.workers` does) and without: the second is what
waking a worker on an idle CPU costs.

    python benchmarks/overhead.py [--calls 200 6400] [--repeat 3] [--record]
"""

from __future__ import annotations

import argparse
import gc
import re
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from agent import Agent, Tool, tool
from agent.detector import Detector
from agent.models.base import Completion, Request
from agent.testing import ScriptedModel
from agent.workers import Workers

RAW_TEXT = (
    "The committee met on the third floor to review the annual budget for the northern "
    "district, the new library wing, the bridge repairs and the parks; the vote on item "
)


@tool(inline=True)
def echo(x: int) -> int:
    """Returns x."""
    return x


@tool(inline=True)
def add(a: int, b: int) -> int:
    """Adds a and b."""
    return a + b


@tool(inline=True)
def note(text: str) -> int:
    """Counts the characters of a note."""
    return len(text)


def default(inline: Tool) -> Tool:
    """The same function as a default tool: on a worker thread under a time limit."""
    return tool(name=inline.name)(inline.fn)


def raw_text(i: int) -> str:
    return f"{RAW_TEXT}{i:06d} was postponed to the spring session"[:200]


@dataclass(frozen=True)
class Shape:
    label: str
    tool: Tool
    args: Callable[[int], str]
    """The call's arguments as written inline."""
    kwargs: Callable[[int], dict[str, Any]]
    """The same arguments as a function-calling model sends them."""


SHAPES = (
    Shape("one integer", echo, lambda i: str(i), lambda i: {"x": i}),
    Shape("two keyword arguments", add, lambda i: f"a={i}, b=2", lambda i: {"a": i, "b": 2}),
    Shape("raw string, 200 chars", note, raw_text, lambda i: {"text": raw_text(i)}),
)
assert all(len(SHAPES[2].args(i)) == 200 for i in (0, 99_999))


class TimedModel(ScriptedModel):
    """A scripted model that keeps count of the CPU time spent producing its chunks, and
    of the times it read the clock (`probes`). Each reply is made whole in one timed
    reading and then handed out chunk by chunk from a list, so the clock is read twice a
    request, not twice a chunk: a reading is a system call that costs CPU of its own, part
    of which falls outside what it measures (`probe_us` measures that part), and at 53
    chunks a call its spread outweighed the loop's own cost per chunk. Handing out a
    chunk from a list is left in the loop's cost."""

    cpu = 0.0
    probes = 0

    def stream(self, request: Request, completion: Completion) -> Iterator[str]:
        start = time.thread_time()
        chunks = list(super().stream(request, completion))
        self.cpu += time.thread_time() - start
        self.probes += 1
        return iter(chunks)


def probe_us(readings: int = 50_000) -> float:
    """CPU µs that one timed reading of `TimedModel` costs outside what it measures: a
    timed loop, less what it measured, less the same loop untimed."""
    cpu = 0.0
    start = time.process_time()
    for _ in range(readings):
        begin = time.thread_time()
        cpu += time.thread_time() - begin
    timed = time.process_time() - start - cpu
    start = time.process_time()
    for _ in range(readings):
        cpu += 0.0
    bare = time.process_time() - start
    return max(0.0, timed - bare) / readings * 1e6


def cpu_per_call(shape: Shape, fn: Tool, calls: int, probe: float = 0.0, record: bool = False) -> float:
    """CPU µs per call outside the model (and outside the model's timing, at `probe`
    µs a reading), over one run of `calls` calls."""
    outputs = [f" step {i} [{fn.name}({shape.args(i)})]" for i in range(calls)] + [" done"]
    model = TimedModel(outputs, chunk_size=4, record=record)
    agent = Agent(model=model, tools=[fn], max_calls=calls + 1, max_tokens=10**9, timeout=None,
                  no_progress=calls + 1)
    gc.collect()
    start = time.process_time()
    result = agent.run("count")
    total = time.process_time() - start
    assert len(result.calls) == calls and all(c.ok for c in result.calls), result.calls[0]
    return (total - model.cpu - model.probes * probe * 1e-6) / calls * 1e6


def smolagents_cpu_per_call(shape: Shape, calls: int, probe: float = 0.0) -> float | None:
    """CPU µs per call outside the model for smolagents' ToolCallingAgent making the same
    calls (one tool call per step, then final_answer), or None when it is not installed."""
    try:
        import smolagents
        from smolagents.models import ChatMessage, ChatMessageToolCall, ChatMessageToolCallFunction, MessageRole
    except ImportError:
        return None
    functions = {"echo": smol_echo, "add": smol_add, "note": smol_note}
    fn = smolagents.tool(functions[shape.tool.name])

    class Scripted(smolagents.Model):  # type: ignore[misc]
        cpu = 0.0
        step = 0
        probes = 0

        def generate(self, messages: Any, stop_sequences: Any = None, response_format: Any = None,
                     tools_to_call_from: Any = None, **kwargs: Any) -> Any:
            start = time.thread_time()
            i, self.step = self.step, self.step + 1
            name, arguments = (fn.name, shape.kwargs(i)) if i < calls else ("final_answer", {"answer": "done"})
            call = ChatMessageToolCall(ChatMessageToolCallFunction(arguments, name), id=f"call_{i}", type="function")
            message = ChatMessage(role=MessageRole.ASSISTANT, content="", tool_calls=[call])
            self.cpu += time.thread_time() - start
            self.probes += 1
            return message

    model = Scripted(model_id="scripted")
    agent = smolagents.ToolCallingAgent(tools=[fn], model=model, max_steps=calls + 1,
                                        verbosity_level=smolagents.LogLevel.OFF)
    gc.collect()
    start = time.process_time()
    answer = agent.run("count")
    total = time.process_time() - start
    assert answer == "done" and model.step == calls + 1, (answer, model.step)
    return (total - model.cpu - model.probes * probe * 1e-6) / calls * 1e6


def smol_echo(x: int) -> int:
    """Returns x.

    Args:
        x: the number.
    """
    return x


def smol_add(a: int, b: int) -> int:
    """Adds a and b.

    Args:
        a: the first number.
        b: the second number.
    """
    return a + b


def smol_note(text: str) -> int:
    """Counts the characters of a note.

    Args:
        text: the note.
    """
    return len(text)


def direct_call_us(calls: int = 10_000) -> float:
    start = time.process_time()
    for i in range(calls):
        add.fn(i, 2)
    return (time.process_time() - start) / calls * 1e6


def handoff_us(place: bool, calls: int = 5_000, gap: float = 40e-6) -> float:
    """CPU µs per call that running a no-op on a worker thread costs (`agent.workers`),
    with `gap` seconds of the caller's own work between calls, as a run has: long enough
    for an idle CPU to fall asleep."""
    workers = Workers(place=place)
    workers.call(int, {}, 5)
    spent = 0.0
    for _ in range(calls):
        end = time.perf_counter() + gap
        while time.perf_counter() < end:
            pass
        start = time.process_time()
        workers.call(int, {}, 5)
        spent += time.process_time() - start
    return spent / calls * 1e6


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


def compare_smolagents(calls: int, repeat: int, defaults: dict[str, float], probe: float) -> None:
    """smolagents' cost per call at `calls` calls against the default tool's, per shape."""
    for shape in SHAPES:
        runs = [smolagents_cpu_per_call(shape, calls, probe) for _ in range(repeat)]
        if None in runs:
            print("smolagents is not installed (pip install -e '.[bench]'): comparison skipped")
            return
        theirs = statistics.median(r for r in runs if r is not None)
        print(f"smolagents ToolCallingAgent, {shape.label}, {calls} calls: {theirs:.1f} µs per call, "
              f"{theirs / defaults[shape.label]:.1f}x the default tool (target >= 20x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, nargs="+", default=[200, 6_400])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="the scripted model records every request")
    args = parser.parse_args()
    small, large = min(args.calls), max(args.calls)
    probe = statistics.median(probe_us() for _ in range(5))
    print(f"CPU µs per call outside the model (median of {args.repeat} runs, the model "
          f"{'records every request' if args.record else 'records nothing'}); "
          f"targets: inline < 30, default < 45, {large}/{small} <= 1.2")
    print(f"each timing of the model costs {probe:.2f} µs outside what it measures "
          "(one per request): taken out")
    print(f"baseline, calling add(a, b) directly: {direct_call_us():.2f} µs")
    print(f"{'shape':24} {'tool':8} " + " ".join(f"{n:>8}" for n in args.calls) + f" {'ratio':>6}")
    defaults: dict[str, float] = {}
    for shape in SHAPES:
        for kind, fn in (("inline", shape.tool), ("default", default(shape.tool))):
            cost = {n: statistics.median(cpu_per_call(shape, fn, n, probe, args.record) for _ in range(args.repeat))
                    for n in args.calls}
            print(f"{shape.label:24} {kind:8} " + " ".join(f"{cost[n]:8.1f}" for n in args.calls)
                  + f" {cost[large] / cost[small]:6.2f}")
        defaults[shape.label] = cost[small]
    compare_smolagents(small, args.repeat, defaults, probe)
    placed, unplaced = (statistics.median(handoff_us(p) for _ in range(args.repeat)) for p in (True, False))
    print(f"hand-off to a worker thread and back, 40 µs apart: {placed:.1f} µs CPU with the worker placed on "
          f"the caller's CPU, {unplaced:.1f} µs without")
    prose = ("Out of 1400 participants, 400 passed the test; the rest did not. " * 4000)
    dense = ("Out of 1400, 400 (or [Calculator(400 / 1400) → 0.29] 29%) passed. " * 4000)
    for label, text in (("prose", prose), ("call-dense", dense)):
        mb_s = statistics.median(detector_mb_s(text) for _ in range(3))
        base = statistics.median(regex_mb_s(text) for _ in range(3))
        print(f"detector throughput, {label}: {mb_s:.1f} MB/s (16-char chunks); regex scan baseline {base:.0f} MB/s")


if __name__ == "__main__":
    main()
