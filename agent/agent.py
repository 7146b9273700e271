"""`Agent`: a model, its tools and its budgets; `run`, `stream` and their async twins."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from agent.dispatch import Dispatcher
from agent.errors import ConfigError
from agent.events import Event, RunFinished, RunResult
from agent.grammar import call_grammar, grammar_for
from agent.loop import Budget, LoopConfig, run_loop
from agent.markup import DEFAULT_MARKUP, Markup
from agent.models import resolve_model
from agent.models.base import CallTrigger, Model, Prompt
from agent.prompt import example_budget, system_prompt
from agent.tools import Tool, Toolbox


class Agent:
    """A Toolformer-style agent: the model writes calls inline, the agent runs them and
    splices the results back for the model to continue from."""

    def __init__(
        self, *, model: Model | str | None = None, tools: Iterable[Tool | Callable[..., Any]] = (),
        instructions: str = "", markup: Markup = DEFAULT_MARKUP, max_calls: int = 20,
        max_tokens: int = 1024, timeout: float | None = 300.0, tool_timeout: float = 30.0,
        no_progress: int = 3, stop: Iterable[str] = (), temperature: float = 0.0,
        seed: int | None = None, trigger: CallTrigger | None = None, max_examples: int = 2,
        max_example_chars: int | None = None, constrain: bool | None = None, check_arithmetic: bool = False,
    ) -> None:
        """`trigger`: start a call when its marker is among the k likeliest tokens (or never);
        None leaves the choice to the model. Off by default: in open-ended tasks a forced
        marker after every result turns into the same call again and again.
        `constrain`: decode each call's arguments under its tool's grammar (agent.grammar);
        None: wherever the model can follow a grammar (the embedded llama.cpp models).
        `check_arithmetic`: recompute each `a op b =` the model writes and splice the value.
        `max_example_chars`: few-shot examples budget; by default from the context size."""
        _check_positive(max_calls=max_calls, max_tokens=max_tokens, tool_timeout=tool_timeout,
                        no_progress=no_progress, max_examples=max_examples + 1)
        if timeout is not None:
            _check_positive(timeout=timeout)
        self._model_spec = model
        self._model: Model | None = model if isinstance(model, Model) else None
        self.toolbox = Toolbox(tools)
        self.instructions = instructions
        self.max_examples = max_examples
        self.max_example_chars = max_example_chars
        self.config = LoopConfig(
            markup=markup, budget=Budget(max_calls=max_calls, max_tokens=max_tokens, timeout=timeout,
                                         no_progress=no_progress),
            tool_timeout=tool_timeout, stop=tuple(stop), temperature=temperature, seed=seed, trigger=trigger,
            check_arithmetic=check_arithmetic,
        )
        self.constrain = constrain
        self._dispatcher = Dispatcher(self.toolbox, timeout=tool_timeout)

    @property
    def model(self) -> Model:
        if self._model is None:
            spec = self._model_spec if isinstance(self._model_spec, str) else None
            self._model = resolve_model(spec)
        return self._model

    @property
    def tools(self) -> list[Tool]:
        return list(self.toolbox.values())

    def system_prompt(self) -> str:
        budget = self.max_example_chars
        if budget is None:
            options = getattr(self._model, "options", None)
            budget = example_budget(getattr(self._model, "n_ctx", None) or getattr(options, "n_ctx", None))
        return system_prompt(self.tools, markup=self.config.markup, instructions=self.instructions,
                             max_examples=self.max_examples, max_example_chars=budget)

    def loop_config(self) -> LoopConfig:
        """The loop's settings for this agent's model, call grammars included where used."""
        if not self.toolbox:
            return replace(self.config, trigger=None)
        constrain = self.constrain
        if constrain is None:
            constrain = bool(getattr(self.model, "supports_grammar", False))
        if not constrain:
            return self.config
        markup = self.config.markup
        return replace(self.config, grammar_for=grammar_for(self.toolbox, markup),
                       call_grammar=call_grammar(self.toolbox, markup))

    def prompt(self, task: str, *, prefix: str = "") -> Prompt:
        return Prompt(self.system_prompt(), task, prefix)

    def stream(self, task: str, *, prefix: str = "", cancel: threading.Event | None = None) -> Iterator[Event]:
        """Run on `task`, yielding events; the last is `RunFinished`. `prefix` starts the
        model's text (e.g. "Let's think step by step."); setting `cancel` ends the run."""
        try:
            yield from run_loop(self.model, self._dispatcher, self.prompt(task, prefix=prefix), self.loop_config(),
                                cancel=cancel)
        finally:
            for t in self.tools:
                if t.reset is not None:
                    t.reset()

    def run(self, task: str, *, prefix: str = "", cancel: threading.Event | None = None) -> RunResult:
        for event in self.stream(task, prefix=prefix, cancel=cancel):
            if isinstance(event, RunFinished):
                return event.result
        raise AssertionError("the loop ended without RunFinished")

    async def astream(self, task: str, *, prefix: str = "") -> AsyncIterator[Event]:
        """`stream` for asyncio: the loop runs on a worker thread; leaving early cancels it."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Event | _Failure | None] = asyncio.Queue()
        cancel = threading.Event()

        def pump() -> None:
            try:
                for event in self.stream(task, prefix=prefix, cancel=cancel):
                    loop.call_soon_threadsafe(queue.put_nowait, event)
            except BaseException as exc:  # handed over to the awaiting side
                loop.call_soon_threadsafe(queue.put_nowait, _Failure(exc))
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=pump, name="interleaf-run", daemon=True).start()
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, _Failure):
                    raise item.error
                yield item
        finally:
            cancel.set()

    async def arun(self, task: str, *, prefix: str = "") -> RunResult:
        async for event in self.astream(task, prefix=prefix):
            if isinstance(event, RunFinished):
                return event.result
        raise AssertionError("the loop ended without RunFinished")

    def close(self) -> None:
        self._dispatcher.close()


@dataclass(frozen=True)
class _Failure:
    error: BaseException


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if value <= 0:
            raise ConfigError(f"{name} must be above zero, got {value}")
