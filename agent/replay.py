"""Replay a stored objective run: the model's recorded outputs are played back to the
same runner, with the recorded tool results or the live tools, and what the replay did
(its tasks, calls, results and answer) is compared step by step with the recording.

    report = replay(ObjectiveStore(), "46e147ae", tools=my_tools, live_tools=True)
    assert report.matches, report.summary()

`ReplayModel.from_run(store, run_id)` is the model alone, for a test of your own."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent.errors import ModelError, ToolCallError, UserError
from agent.models.base import Capabilities, Completion, Request
from agent.tasks.events import ObjectiveEvent, to_json
from agent.tasks.recording import (
    MODEL_INFO, MODEL_OUTPUT, ModelOutput, PromptDigest, RunObserver, capabilities_from_json,
)
from agent.tasks.runner import ObjectiveRunner
from agent.tasks.state import Approve
from agent.tasks.store import DB_NAME, ObjectiveStore
from agent.tools import Tool


class NotReplayable(UserError):
    """The run keeps no model outputs (it was stored before they were kept)."""


class ReplayExhausted(ModelError):
    """The replay asked the model more often than the recording did."""


@dataclass(frozen=True)
class PromptDifference:
    request: int
    """1-based."""
    task_id: int | None
    how: str


class ReplayModel:
    """Plays back a run's recorded model outputs, one per request, in order, with the
    recorded usage and finish reasons; it declares the recorded model's name and
    capabilities so the agent decodes and prompts as it did. Each request whose prompt
    differs from the recorded one is noted in `differences`."""

    def __init__(self, outputs: Sequence[ModelOutput], *, name: str = "replay",
                 capabilities: Capabilities = Capabilities()) -> None:
        self.outputs = list(outputs)
        self._name = name
        self._capabilities = capabilities
        self.requests = 0
        self.differences: list[PromptDifference] = []

    @classmethod
    def from_run(cls, store: ObjectiveStore, run_id: str) -> ReplayModel:
        run = store.run(run_id)
        events = store.events(run.id)
        outputs = [ModelOutput.from_json(e) for e in events if e.get("type") == MODEL_OUTPUT]
        if not outputs:
            raise NotReplayable(f"run {run.id} keeps no model outputs (it was stored by an older version), "
                                "so it cannot be replayed")
        info = next((e for e in events if e.get("type") == MODEL_INFO), None)
        caps = capabilities_from_json(info["capabilities"]) if info else Capabilities()
        return cls(outputs, name=str(info["name"]) if info else run.model, capabilities=caps)

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def remaining(self) -> int:
        return len(self.outputs) - self.requests

    def stream(self, request: Request, completion: Completion) -> Iterator[str]:
        if self.requests >= len(self.outputs):
            self.requests += 1
            raise ReplayExhausted(f"the replay made request {self.requests}; the recording has "
                                  f"{len(self.outputs)}")
        output = self.outputs[self.requests]
        self.requests += 1
        how = output.prompt.difference(PromptDigest.of(request))
        if how is not None:
            self.differences.append(PromptDifference(self.requests, output.task_id, how))
        completion.usage.add(output.usage)
        completion.finish_reason, completion.stop_sequence = output.finish_reason, output.stop_sequence
        return self._played(output)

    @staticmethod
    def _played(output: ModelOutput) -> Iterator[str]:
        yield from output.chunks
        if output.error is not None:
            raise output.error.exception()


class NotRecorded(ToolCallError):
    def __init__(self, name: str) -> None:
        super().__init__(f"the recording has no further result of {name}")


class RecordedError(ToolCallError):
    """A tool's recorded error, told in the recorded words."""


def recorded_calls(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The call records of a stored run, in order."""
    return [dict(e["event"]["record"]) for e in events
            if e.get("type") == "task_output" and e.get("event", {}).get("type") == "call_finished"]


def recorded_tools(tools: Sequence[Tool], calls: Sequence[Mapping[str, Any]]) -> list[Tool]:
    """`tools` as the model sees them (names, descriptions, parameters), answering each
    call with the result or error the recording has for that tool's next call."""
    queues: dict[str, list[Mapping[str, Any]]] = {}
    for call in calls:
        if call.get("arguments") is not None:
            queues.setdefault(str(call["name"]).casefold(), []).append(call)

    def player(name: str) -> Callable[..., Any]:
        def play(**arguments: Any) -> Any:
            queue = queues.get(name.casefold())
            if not queue:
                raise NotRecorded(name)
            call = queue.pop(0)
            if call.get("error") is not None:
                raise RecordedError(str(call["error"]))
            return call.get("result")
        return play

    return [replace(t, fn=player(t.name), inline=True, reset=None) for t in tools]


@dataclass(frozen=True)
class Step:
    kind: str
    where: str
    """The step in words: `task 2, call 1 Calculator(3 * 4)`."""
    value: tuple[Any, ...]


@dataclass(frozen=True)
class Divergence:
    step: int
    """1-based, in the order of the steps of the recording."""
    where: str
    recorded: str
    replayed: str

    def __str__(self) -> str:
        return f"step {self.step} ({self.where}): the recording has {self.recorded}, the replay {self.replayed}"


@dataclass
class ReplayReport:
    run_id: str
    live_tools: bool
    recorded: list[Step] = field(default_factory=list)
    replayed: list[Step] = field(default_factory=list)
    divergences: list[Divergence] = field(default_factory=list)
    requests: int = 0
    answer: str = ""

    @property
    def matches(self) -> bool:
        return not self.divergences

    @property
    def calls(self) -> int:
        return sum(s.kind == "call" for s in self.replayed)

    def summary(self) -> str:
        tools = "live tools" if self.live_tools else "recorded tool results"
        if self.matches:
            counted = ", ".join(_count(n, what) for n, what in ((len(self.replayed), "step"),
                                                              (self.requests, "model request"), (self.calls, "call")))
            return (f"The replay of run {self.run_id} ({tools}) matches the recording: {counted}; the calls, "
                    "results and answer are equal.")
        first = self.divergences[0]
        more = len(self.divergences) - 1
        tail = f" ({_count(more, 'more difference')} after it)" if more else ""
        return f"The replay of run {self.run_id} ({tools}) diverged at {first}{tail}."


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def steps_of(data: Mapping[str, Any]) -> list[Step]:
    """The steps one stored event stands for (most events stand for none)."""
    kind = data.get("type")
    if kind == "tasks_planned":
        return [Step("plan", "the plan", tuple(t["text"] for t in data["tasks"]))]
    if kind == "tasks_created":
        return [Step("create", f"tasks created after task {data['parent']}", tuple(t["text"] for t in data["tasks"]))]
    if kind == "tasks_reordered":
        return [Step("order", "the order of the tasks", tuple(data["order"]))]
    if kind == "judged":
        return [Step("judge", "the judgement", (data["done"],))]
    if kind == "task_started":
        task = data["task"]
        return [Step("task", f"task {task['id']}", (task["text"],))]
    if kind == "task_finished":
        task = data["task"]
        return [Step("result", f"task {task['id']}'s result", (task["status"], task["result"], task["detail"]))]
    if kind == "task_output" and data["event"].get("type") == "call_finished":
        r = data["event"]["record"]
        where = f"task {data['task_id']}, call {r['index'] + 1} {r['name']}({r['raw']})"
        return [Step("call", where, (r["name"], r["raw"], r.get("result"), r.get("error")))]
    if kind == "objective_finished":
        return [Step("answer", "the answer", (data["status"], data["stop_reason"], data["detail"], data["answer"]))]
    return []


def _shown(step: Step | None) -> str:
    if step is None:
        return "no such step"
    if step.kind == "call":
        name, raw, result, error = step.value
        outcome = f"the error {error!r}" if error is not None else f"the result {result!r}"
        return f"{name}({raw}) with {outcome}"
    values = ", ".join(repr(v) for v in step.value)
    return f"{step.kind} {values}"


def compare(recorded: Sequence[Step], replayed: Sequence[Step]) -> list[Divergence]:
    out: list[Divergence] = []
    for n in range(max(len(recorded), len(replayed))):
        a = recorded[n] if n < len(recorded) else None
        b = replayed[n] if n < len(replayed) else None
        if a != b:
            where = a.where if a is not None else b.where if b is not None else ""
            out.append(Divergence(n + 1, where, _shown(a), _shown(b)))
    return out


def replay(store: ObjectiveStore, run_id: str, *, tools: Sequence[Tool] = (), live_tools: bool = False,
           observers: Sequence[RunObserver] = (),
           on_event: Callable[[ObjectiveEvent], None] | None = None) -> ReplayReport:
    """Run the stored run `run_id` again on its recorded model outputs, in a store of its
    own (the original is left as it is), and compare it with the recording. `tools`: the
    tools by these names as they are installed now; unless `live_tools`, they answer with
    the recorded results."""
    run = store.run(run_id)
    events = store.events(run.id)
    model = ReplayModel.from_run(store, run.id)
    chosen = list(tools) if live_tools else recorded_tools(tools, recorded_calls(events))
    report = ReplayReport(run.id, live_tools)
    for data in events:
        report.recorded.extend(steps_of(data))
    notes: list[tuple[int, PromptDifference]] = []
    with tempfile.TemporaryDirectory(prefix="interleaf-replay-") as folder:
        scratch = ObjectiveStore(Path(folder) / DB_NAME)
        try:
            runner = ObjectiveRunner(model=model, store=scratch, tools=chosen, cancel=threading.Event(),
                                     tool_timeout=run.options.limits.task_timeout, observers=observers)
            options = replace(run.options, approve=Approve.NONE)
            copy = runner.start(run.objective, options=options, model_spec=run.model)
            for event in runner.events(copy.id):
                report.replayed.extend(steps_of(to_json(event)))
                notes.extend((len(report.replayed), d) for d in model.differences[len(notes):])
                if on_event is not None:
                    on_event(event)
            report.answer = scratch.run(copy.id).answer
        finally:
            scratch.close()
    report.requests = model.requests
    steps = max(len(report.recorded), len(report.replayed))
    report.divergences = _merged(compare(report.recorded, report.replayed), notes, model, steps)
    return report


def _merged(divergences: list[Divergence], notes: Sequence[tuple[int, PromptDifference]],
            model: ReplayModel, steps: int) -> list[Divergence]:
    """The step divergences with the prompt differences among them, in the order they
    happened; a recording with outputs the replay never asked for is a divergence too."""
    out = list(divergences)
    for after, note in notes:
        task = f"task {note.task_id}" if note.task_id is not None else "a planning step"
        out.append(Divergence(after + 1, f"model request {note.request}, {task}", "another prompt",
                              f"a prompt where {note.how}"))
    if model.remaining > 0:
        out.append(Divergence(steps + 1, "the end", f"{len(model.outputs)} model requests",
                              f"{model.requests}"))
    return sorted(out, key=lambda d: d.step)
