"""What the model said to each request of an objective run, kept in the run's
transcript (`model_output` events) so the run can be replayed, and handed to the run's
observers (tracing) together with the run's events.

A `model_output` event holds the chunks the run read (a stream closed at a call holds
what came before it), why the model stopped, what it spent, when it started and how
long it took, the task it served (None: a planning step) and digests of the prompt, so
a replay can tell when it asks something the recording was not asked."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, cast

from agent.errors import ContextOverflow, ModelError
from agent.models.base import (
    Capabilities, Completion, FinishReason, Model, Profile, Recipe, Request, Usage, WrappedModel,
)
from agent.tasks.events import ObjectiveEvent, ObjectiveStarted, TaskFinished, TaskStarted

MODEL_OUTPUT = "model_output"
MODEL_INFO = "model_info"


@dataclass(frozen=True)
class PromptDigest:
    """Digests of a request's prompt, part by part (the assistant part is the run's text so far)."""

    system: str
    user: str
    assistant: str
    assistant_chars: int

    @classmethod
    def of(cls, request: Request) -> PromptDigest:
        p = request.prompt
        return cls(_digest(p.system), _digest(p.user), _digest(p.assistant), len(p.assistant))

    def difference(self, other: PromptDigest) -> str | None:
        """How `other` (a replay's prompt) differs from this one (the recording's), in words."""
        if other.system != self.system:
            return "its system prompt differs (other tools or instructions?)"
        if other.user != self.user:
            return "it asks about something else (another task or objective text)"
        if other.assistant != self.assistant:
            return (f"the text it continues differs ({other.assistant_chars} characters where the recording "
                    f"had {self.assistant_chars})")
        return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True)
class RecordedFailure:
    """An exception a model raised, as a replay raises it again."""

    type: str
    message: str
    model_error: bool
    """A `ModelError` (the loop words these as "model error: ...")."""
    context: tuple[int, int] | None = None
    """A `ContextOverflow`'s tokens needed and window."""

    @classmethod
    def of(cls, exc: BaseException) -> RecordedFailure:
        context = (exc.needed, exc.window) if isinstance(exc, ContextOverflow) else None
        return cls(type(exc).__name__, str(exc), isinstance(exc, ModelError), context)

    def exception(self) -> Exception:
        if self.context is not None:
            return ContextOverflow(*self.context)
        base: type[Exception] = ModelError if self.model_error else Exception
        kind: type[Exception] = type(self.type, (base,), {})
        return kind(self.message)


@dataclass(frozen=True)
class ModelOutput:
    seq: int
    """Requests of the run before this one."""
    task_id: int | None
    chunks: tuple[str, ...]
    finish_reason: FinishReason | None
    stop_sequence: str | None
    usage: Usage
    started: float
    """Seconds since the epoch."""
    seconds: float
    prompt: PromptDigest
    max_tokens: int = 0
    temperature: float = 0.0
    error: RecordedFailure | None = None
    """What the model raised, if it failed."""

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["chunks"] = list(self.chunks)
        return {"type": MODEL_OUTPUT, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelOutput:
        return cls(seq=int(data["seq"]), task_id=data.get("task_id"), chunks=tuple(data.get("chunks", ())),
                   finish_reason=data.get("finish_reason"), stop_sequence=data.get("stop_sequence"),
                   usage=Usage(**data.get("usage", {})), started=float(data.get("started", 0.0)),
                   seconds=float(data.get("seconds", 0.0)), prompt=PromptDigest(**data["prompt"]),
                   max_tokens=int(data.get("max_tokens", 0)), temperature=float(data.get("temperature", 0.0)),
                   error=RecordedFailure(**data["error"]) if data.get("error") else None)


def capabilities_json(caps: Capabilities) -> dict[str, Any]:
    data = asdict(caps)
    return cast(dict[str, Any], _lists(data))


def capabilities_from_json(data: dict[str, Any]) -> Capabilities:
    profile = data.get("profile", {})
    recipes = {k: Recipe(**v) for k, v in profile.items()}
    return Capabilities(
        grammar=bool(data.get("grammar", False)), context_window=data.get("context_window"),
        native_tools=bool(data.get("native_tools", False)), structured=tuple(data.get("structured", ())),
        exact_usage=bool(data.get("exact_usage", False)), prefix_cache=bool(data.get("prefix_cache", False)),
        layouts=tuple(data.get("layouts", ("chat",))), profile=Profile(**recipes),
    )


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value


class RunObserver(Protocol):
    """Sees an objective run as it goes: each of its events, and each model request
    with what the model answered (once its stream is closed)."""

    def event(self, event: ObjectiveEvent) -> None: ...

    def model_output(self, model: Model, request: Request, output: ModelOutput) -> None: ...

    def close(self) -> None:
        """The session ended, possibly without its last event (the caller stopped reading)."""


class Sink(Protocol):
    def __call__(self, data: dict[str, Any]) -> None: ...


@dataclass
class Recorder:
    """Keeps every model output of a run session for its transcript and tells
    `observers` about events and outputs. `model(inner)` is the model the session uses.
    Outputs wait in `pending` until `flush` hands them to `sink`: the runner flushes
    them in the transaction that stores its next event, so that keeping them adds no
    commit of its own."""

    sink: Sink
    observers: Sequence[RunObserver] = ()
    seq: int = 0
    task_id: int | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    _model: Model | None = field(default=None, repr=False)

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        for data in pending:
            self.sink(data)

    def close(self) -> None:
        self.flush()
        for observer in self.observers:
            observer.close()

    def watch(self, events: Iterator[ObjectiveEvent]) -> Iterator[ObjectiveEvent]:
        """`events`, each told to the observers as it passes; closed when they end or are left."""
        try:
            for event in events:
                self.event(event)
                yield event
        finally:
            self.close()

    def model(self, inner: Model) -> Model:
        self._model = inner
        return _RecordingModel(inner, self)

    def event(self, event: ObjectiveEvent) -> None:
        if isinstance(event, ObjectiveStarted) and self._model is not None:
            self.pending.append({"type": MODEL_INFO, "name": self._model.name,
                       "capabilities": capabilities_json(self._model.capabilities)})
        if isinstance(event, TaskStarted):
            self.task_id = event.task.id
        elif isinstance(event, TaskFinished):
            self.task_id = None
        for observer in self.observers:
            observer.event(event)

    def output(self, model: Model, request: Request, output: ModelOutput) -> None:
        self.seq += 1
        self.pending.append(output.to_json())
        for observer in self.observers:
            observer.model_output(model, request, output)


class _RecordingModel(WrappedModel):
    def __init__(self, inner: Model, recorder: Recorder) -> None:
        super().__init__(inner)
        self.recorder = recorder

    def stream(self, request: Request, completion: Completion) -> Iterator[str]:
        started, clock = time.time(), time.perf_counter()
        chunks: list[str] = []
        try:
            stream = self.inner.stream(request, completion)
        except Exception as exc:
            self._keep(request, completion, chunks, started, clock, RecordedFailure.of(exc))
            raise
        return self._recorded(stream, request, completion, chunks, started, clock)

    def _recorded(self, stream: Iterator[str], request: Request, completion: Completion, chunks: list[str],
                  started: float, clock: float) -> Iterator[str]:
        failure: RecordedFailure | None = None
        try:
            for chunk in stream:
                chunks.append(chunk)
                yield chunk
        except Exception as exc:
            failure = RecordedFailure.of(exc)
            raise
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
            self._keep(request, completion, chunks, started, clock, failure)

    def _keep(self, request: Request, completion: Completion, chunks: list[str], started: float,
              clock: float, failure: RecordedFailure | None = None) -> None:
        used = completion.usage
        output = ModelOutput(
            seq=self.recorder.seq, task_id=self.recorder.task_id, chunks=tuple(chunks),
            finish_reason=completion.finish_reason, stop_sequence=completion.stop_sequence,
            usage=Usage(used.prompt_tokens, used.evaluated_tokens, used.completion_tokens, used.requests),
            started=started, seconds=time.perf_counter() - clock, prompt=PromptDigest.of(request),
            max_tokens=request.max_tokens, temperature=request.temperature, error=failure)
        self.recorder.output(self.inner, request, output)
