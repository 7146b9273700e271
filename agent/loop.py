"""The Toolformer loop: generate → detect → dispatch → splice → continue.

`run_loop` yields events. Each pass streams the model's continuation of the transcript
until a call closes (the stream is closed there, so the model never writes a result),
the model ends, or a budget runs out; the step that follows is one of `NextStep`.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, assert_never

from agent.arithmetic import find_equation
from agent.detector import Closed, Detector, Malformed, Opened, Text
from agent.dispatch import Dispatcher
from agent.errors import ContextOverflow, MalformedCall, ModelError, UserError
from agent.events import (
    CallFinished, CallRecord, CallStarted, Event, Part, RunFinished, RunResult, Spliced, StopReason, TextDelta,
)
from agent.frozen import quick_init
from agent.markup import DEFAULT_MARKUP, Markup, ParsedCall
from agent.settings import DEFAULTS, Settings
from agent.models.base import CallTrigger, Completion, Model, Prompt, Request, ToolSpec, Usage


@dataclass(frozen=True)
class LoopConfig:
    markup: Markup = DEFAULT_MARKUP
    settings: Settings = DEFAULTS
    trigger: CallTrigger | None = None
    grammar_for: Callable[[str], str | None] | None = None
    """A tool's name → a GBNF grammar for its arguments; when given, once the model opens
    a call to that tool the arguments are generated under the grammar."""
    call_grammar: str | None = None
    """A GBNF grammar for a whole call (name, arguments, close); when given, as soon as
    the model writes the open marker the rest of the call is generated under it."""
    tools: tuple[ToolSpec, ...] = ()
    """The toolbox offered to a model with native function calling."""
    tool_choice: str | None = None
    check_arithmetic: bool = False
    """Treat `a op b =` in the model's text as an implicit call: stop there, splice the
    computed value and let the model go on (at most `settings.max_calls` times a run)."""


@quick_init
@dataclass(frozen=True)
class CallNext:
    call: ParsedCall


@dataclass(frozen=True)
class MalformedNext:
    name: str
    text: str
    reason: str


@dataclass(frozen=True)
class FinishNext:
    reason: StopReason
    detail: str


@dataclass(frozen=True)
class ConstrainNext:
    opened: str
    """The markup that opened the call, e.g. `[Calculator(`."""
    grammar: str


@dataclass(frozen=True)
class SpliceNext:
    text: str
    """The value of an equation the model wrote, spliced after its `=`."""


@dataclass(frozen=True)
class GenerateNext:
    """Ask the model to go on; under a grammar when it has just opened a call."""

    opened: ConstrainNext | None = None


NextStep = GenerateNext | CallNext | MalformedNext | ConstrainNext | SpliceNext | FinishNext
_GO_ON = GenerateNext()


class _Run:
    def __init__(self, model: Model, dispatcher: Dispatcher, prompt: Prompt, config: LoopConfig,
                 cancel: threading.Event | None) -> None:
        self.model = model
        self.dispatcher = dispatcher
        self.prompt = prompt
        self.config = config
        self.cancel = cancel or threading.Event()
        self._parts: list[str] = []
        self.record: list[Part] = []
        self.opening = prompt.record(config.markup) if config.tools and prompt.assistant else ()
        """The assistant text the run started from, as parts (read only for native tools)."""
        self.detector = Detector(config.markup, is_tool=dispatcher.toolbox.__contains__)
        self.calls: list[CallRecord] = []
        self.usage = Usage()
        self.started = time.monotonic()
        timeout = config.settings.timeout
        self.deadline = None if timeout is None else self.started + timeout
        """The monotonic time the run must end by, or None."""
        self.seen: Counter[tuple[tuple[str, str], str]] = Counter()
        self.checks = 0
        self.in_call = False

    @property
    def text(self) -> str:
        """The transcript so far (kept in pieces while it grows)."""
        if len(self._parts) > 1:
            text, rest = self._parts[0], "".join(self._parts[1:])
            self._parts = []
            text += rest  # grows in place when nothing else holds the transcript: flat per call
            self._parts = [text]
        return self._parts[0] if self._parts else ""

    def add(self, text: str) -> None:
        if text:
            self.keep_part(text)

    def keep_part(self, part: Part) -> None:
        """Add `part` to the run's record, and its rendering to the transcript (the
        rendering kept in pieces so that the prompt is not rebuilt per part)."""
        self._parts.append(part if isinstance(part, str) else part.text)
        self.record.append(part)

    def parts(self) -> tuple[Part, ...]:
        """The record with adjacent text pieces joined (joined once, not per chunk)."""
        merged: list[Part] = []
        pending: list[str] = []
        for part in self.record:
            if isinstance(part, str):
                pending.append(part)
                continue
            if pending:
                merged.append("".join(pending))
                pending = []
            merged.append(part)
        if pending:
            merged.append("".join(pending))
        return tuple(merged)

    def events(self) -> Iterator[Event]:
        step: NextStep = GenerateNext()
        while True:
            if isinstance(step, GenerateNext):
                step = yield from self.generate(step.opened)
            elif isinstance(step, ConstrainNext):
                step = GenerateNext(step)
            elif isinstance(step, CallNext):
                step = yield from self.call(step.call)
            elif isinstance(step, MalformedNext):
                step = yield from self.malformed(step)
            elif isinstance(step, SpliceNext):
                self.keep_part(Spliced(step.text))
                yield TextDelta(step.text)
                step = GenerateNext()
            elif isinstance(step, FinishNext):
                yield RunFinished(self.result(step))
                return
            else:
                assert_never(step)

    def request_prompt(self, held: str) -> Prompt:
        """The prompt with the text so far; with native tools, the calls as parts too."""
        prompt = self.prompt.extend(self.text + held)
        if not self.config.tools:
            return prompt
        return replace(prompt, parts=(*self.opening, *self.record, held))

    def generate(self, opened: ConstrainNext | None = None) -> Generator[Event, None, NextStep]:
        config = self.config
        budget = config.settings
        left = budget.max_tokens - self.usage.completion_tokens
        if left <= 0:
            return self.tokens_spent()
        held = opened.opened if opened else ""
        request = Request(
            prompt=self.request_prompt(held),
            stop=budget.stop, max_tokens=left, temperature=budget.temperature,
            seed=budget.seed, trigger=None if opened else config.trigger,
            grammar=opened.grammar if opened else None, tools=config.tools,
            tool_choice="none" if config.tools and len(self.calls) >= budget.max_calls else config.tool_choice,
        )
        completion = Completion()
        detector = self.detector
        detector.reset()
        if held:
            detector.feed(held)
        constrain = None if opened else self.config.grammar_for
        stream: Iterator[str] | None = None
        try:
            stream = self.model.stream(request, completion)
            self.in_call = False
            step = yield from self.read(stream, constrain, watch_marker=opened is None and self.config.call_grammar is not None)
            if step is not None:
                return step
            step = yield from self.detect(detector.finish(cut=completion.finish_reason == "length"), None)
            return step or self.finished(completion)
        except (UserError, KeyboardInterrupt, GeneratorExit):
            raise
        except ContextOverflow as exc:
            return FinishNext(StopReason.CONTEXT_FULL, str(exc))
        except Exception as exc:
            kind = "model error" if isinstance(exc, ModelError) else type(exc).__name__
            return FinishNext(StopReason.MODEL_ERROR, f"{kind}: {exc}")
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
            self.usage.add(completion.usage)

    def read(self, stream: Iterator[str], constrain: Callable[[str], str | None] | None, *,
             watch_marker: bool) -> Generator[Event, None, NextStep | None]:
        """Feed the stream to the detector until a step is decided (None: the stream
        ended first). A chunk that gives one event takes the short way: plain text is
        kept and yielded, a closed call or an opened one is read as `detect` reads it."""
        feed, cancelled, deadline = self.detector.feed, self.cancel.is_set, self.deadline
        plain = not self.config.check_arithmetic
        pieces, record = self._parts, self.record
        tail, marker = "", self.config.markup.open.strip()
        for chunk in stream:
            found = feed(chunk)
            if not found and not watch_marker:  # held: more of a call, or what may start one
                if cancelled() or (deadline is not None and time.monotonic() >= deadline):
                    return self.interrupted()
                continue
            step: NextStep | None = None
            one = found[0] if len(found) == 1 else None
            if isinstance(one, Text) and plain:
                text = one.text
                if text:  # what keep_part does, inline: this runs per chunk
                    pieces.append(text)
                    record.append(text)
                yield TextDelta(text)
            elif isinstance(one, Closed):
                step = CallNext(one.call)
            elif isinstance(one, Opened) and constrain is None:
                self.in_call = True
            elif found:
                step = yield from self.detect(found, constrain)
            if step is None and watch_marker:
                tail = (tail + chunk)[-len(marker) :]
                step = self.marker_written(self.detector, tail)
            if step is None and (cancelled() or (deadline is not None and time.monotonic() >= deadline)):
                step = self.interrupted()
            if step is not None:
                return step
        return None

    def detect(self, found: Sequence[Text | Opened | Closed | Malformed],
               constrain: Callable[[str], str | None] | None) -> Generator[Event, None, NextStep | None]:
        for event in found:
            if isinstance(event, Text):
                text, splice = self.check(event.text)
                self.add(text)
                if text:
                    yield TextDelta(text)
                if splice is not None:
                    return splice
            elif isinstance(event, Closed):
                return CallNext(event.call)
            elif isinstance(event, Malformed):
                return MalformedNext(event.name, event.text, event.reason)
            elif isinstance(event, Opened):
                self.in_call = True
                grammar = constrain(event.name) if constrain and event.name in self.dispatcher.toolbox else None
                if grammar:
                    return ConstrainNext(event.text, grammar)
            else:
                assert_never(event)
        return None

    def marker_written(self, detector: Detector, tail: str) -> ConstrainNext | None:
        """With a call grammar, a call is generated under it from the open marker on."""
        grammar, marker = self.config.call_grammar, self.config.markup.open.strip()
        if grammar and not self.in_call and detector.holding and tail == marker:
            return ConstrainNext(marker, grammar)
        return None

    def check(self, text: str) -> tuple[str, SpliceNext | None]:
        """`text` up to the end of the first equation in it, with the equation's value."""
        if not self.config.check_arithmetic or self.checks >= self.config.settings.max_calls:
            return text, None
        start = len(self.text)
        found = find_equation(self.text + text, start)
        if found is None:
            return text, None
        self.checks += 1
        return text[: found.end - start], SpliceNext(found.value)

    def interrupted(self) -> FinishNext:
        if self.cancel.is_set():
            return FinishNext(StopReason.CANCELLED, "the run was cancelled")
        return FinishNext(StopReason.TIMEOUT, f"the run took longer than {self.config.settings.timeout:g} s")

    def finished(self, completion: Completion) -> FinishNext:
        reason = completion.finish_reason
        if reason == "stop":
            return FinishNext(StopReason.STOP_SEQUENCE, f"the model wrote the stop sequence {completion.stop_sequence!r}")
        if reason == "length":
            return self.tokens_spent()
        return FinishNext(StopReason.END, "the model finished its text")

    def tokens_spent(self) -> FinishNext:
        return FinishNext(StopReason.MAX_TOKENS, f"the run used its {self.config.settings.max_tokens} tokens")

    def calls_spent(self, index: int) -> FinishNext | None:
        """The finish for call number `index` if the run has no calls left for it."""
        limit = self.config.settings.max_calls
        if index < limit:
            return None
        return FinishNext(StopReason.MAX_CALLS, f"the model tried call {index + 1} of at most {limit}")

    def call(self, call: ParsedCall) -> Generator[Event, None, NextStep]:
        budget = self.config.settings
        index = len(self.calls)
        spent = self.calls_spent(index) if index >= budget.max_calls else None
        if spent is not None:
            yield self.splice(index, call.name, call.raw, error=f"the run's budget of {budget.max_calls} calls is spent")
            return spent
        yield CallStarted(index, call)
        timeout = budget.tool_timeout if self.deadline is None else \
            max(0.0, min(budget.tool_timeout, self.deadline - time.monotonic()))
        outcome = self.dispatcher.run(call, timeout=timeout)
        error = None if outcome.error is None else str(outcome.error)
        yield self.splice(index, call.name, call.raw, result=outcome.result, error=error,
                          arguments=outcome.arguments, seconds=outcome.seconds, content=outcome.content)
        if (self.deadline is not None and time.monotonic() >= self.deadline) or self.cancel.is_set():
            return self.interrupted()
        return self.no_progress(call.key(), outcome.result or error or "", shown=call)

    def malformed(self, step: MalformedNext) -> Generator[Event, None, NextStep]:
        """A malformed call is spliced back with its error, also past the call budget,
        and counts toward the no-progress limit like any call."""
        index = len(self.calls)
        spent = self.calls_spent(index)
        error = MalformedCall(step.text, step.reason)
        shown = f"{error}; write it as {step.name}(...)" if spent is None else \
            f"the run's budget of {self.config.settings.max_calls} calls is spent"
        text = self.config.markup.render(step.name, "…", error=shown)
        yield self.keep(CallRecord(index, step.name, step.text, text, error=shown))
        key = (step.name.casefold(), " ".join(step.text.split()))
        return spent or self.no_progress(key, str(error), shown=step.text)

    def no_progress(self, key: tuple[str, str], outcome: str, *, shown: str | ParsedCall) -> FinishNext | GenerateNext:
        """The finish when the same call (`shown`, or as written) has given the same
        outcome too often; else the model goes on."""
        limit = self.config.settings.no_progress
        seen = self.seen[key, outcome] = self.seen.get((key, outcome), 0) + 1
        if seen < limit:
            return _GO_ON
        written = shown if isinstance(shown, str) else f"{shown.name}({shown.raw})"
        return FinishNext(StopReason.NO_PROGRESS, f"{written} gave the same result {limit} times")

    def splice(self, index: int, name: str, raw: str, *, result: str | None = None, error: str | None = None,
               arguments: Mapping[str, Any] | None = None, seconds: float = 0.0,
               content: tuple[Mapping[str, object], ...] = ()) -> CallFinished:
        text = self.config.markup.render(name, raw, result=result or "", error=error)
        return self.keep(CallRecord(index, name, raw, text, arguments=arguments,
                                    result=result, error=error, seconds=seconds, content=content))

    def keep(self, record: CallRecord) -> CallFinished:
        """Splice a finished call into the transcript; the event that says so."""
        self.calls.append(record)
        self.keep_part(record)
        return CallFinished(record)

    def result(self, step: FinishNext) -> RunResult:
        return RunResult(
            text=self.text, calls=tuple(self.calls), usage=self.usage, stop_reason=step.reason,
            detail=step.detail, seconds=time.monotonic() - self.started, parts=self.parts(),
        )


def run_loop(model: Model, dispatcher: Dispatcher, prompt: Prompt, config: LoopConfig = LoopConfig(), *,
             cancel: threading.Event | None = None) -> Iterator[Event]:
    """Run the loop on `prompt`, yielding events; the last one is always `RunFinished`."""
    run = _Run(model, dispatcher, prompt, config, cancel)
    try:
        yield from run.events()
    except KeyboardInterrupt:
        yield RunFinished(run.result(FinishNext(StopReason.CANCELLED, "interrupted")))
