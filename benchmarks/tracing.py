"""What observing a run costs: one objective run (two tasks, three calculator calls, ten
model requests on a scripted model) timed without keeping its model outputs (the
baseline before runs kept them), with tracing off, with spans through the
OpenTelemetry API with no provider set (non-recording spans), and with the SDK recording
to its in-memory exporter. Each variant runs interleaved with the others, `ROUNDS` times;
the medians are printed in milliseconds with their ratio to the run that keeps nothing. A second
table says which OpenTelemetry modules each way of running loads.

    python benchmarks/tracing.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers.recorded import OBJECTIVE, make_model  # noqa: E402

from agent.cli.setup import installed  # noqa: E402
from agent.tasks import ObjectiveOptions, ObjectiveRunner, ObjectiveStore  # noqa: E402
from agent.tasks.recording import Recorder, RunObserver  # noqa: E402

ROUNDS = 30
TOOLS = installed()


def one_run(folder: Path, n: int, observers: Callable[[], list[RunObserver]]) -> float:
    keep = observers is not UNKEPT
    Recorder.output = KEEP if keep else _count_only  # type: ignore[method-assign]
    store = ObjectiveStore(folder / f"runs-{n}.sqlite3")
    runner = ObjectiveRunner(model=make_model(), store=store, tools=TOOLS, observers=observers())
    started = time.perf_counter()
    for _ in runner.run(OBJECTIVE, options=ObjectiveOptions(tools=("Calculator",))):
        pass
    elapsed = time.perf_counter() - started
    store.close()
    Recorder.output = KEEP  # type: ignore[method-assign]
    return elapsed


def _count_only(self: Recorder, model: object, request: object, output: object) -> None:
    self.seq += 1


def UNKEPT() -> list[RunObserver]:
    return []


KEEP = Recorder.output


def variants() -> dict[str, Callable[[], list[RunObserver]]]:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agent.trace import Spans

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    return {
        "outputs not kept": UNKEPT,
        "off (no observer)": lambda: [],
        "API, no provider": lambda: [Spans(trace.get_tracer("bench"))],
        "SDK, in memory": lambda: [Spans(provider.get_tracer("bench"))],
        "SDK, in memory, content": lambda: [Spans(provider.get_tracer("bench"), capture_content=True)],
    }


IMPORTS = """
import sys
from agent.trace.setup import observers_from_env
tracing = observers_from_env()
print(len([m for m in sys.modules if m.startswith("opentelemetry")]), len(tracing.observers))
"""


def imports(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True, env=env, check=True)
    modules, observers = done.stdout.split()
    return f"{modules} opentelemetry modules, {observers} observer(s)"


def main() -> None:
    chosen = variants()
    times: dict[str, list[float]] = {name: [] for name in chosen}
    with tempfile.TemporaryDirectory() as folder:
        for n in range(ROUNDS):
            for name, observers in chosen.items():
                times[name].append(one_run(Path(folder), n * 10 + len(times[name]), observers))
    base = statistics.median(times["outputs not kept"])
    print(f"{'variant':28} {'median ms':>10} {'ratio':>7}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:28} {median * 1000:10.2f} {median / base:7.2f}")
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    print(f"no endpoint:   {imports(env)}")
    print(f"with endpoint: {imports({**env, 'OTEL_EXPORTER_OTLP_ENDPOINT': 'http://127.0.0.1:9'})}")


if __name__ == "__main__":
    main()
