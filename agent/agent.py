"""`Agent`: a model, its tools and its budgets; `run`, `stream` and their async twins."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

from agent.dispatch import Dispatcher
from agent.errors import ConfigError
from agent.events import Event, RunFinished, RunResult
from agent.grammar import call_grammar, grammar_for
from agent.loop import LoopConfig, run_loop
from agent.settings import DEFAULTS, Settings
from agent.markup import DEFAULT_MARKUP, Markup
from agent.models import resolve_model
from agent.models.base import CallTrigger, Layout, Model, Prompt
from agent.prompt import example_budget, system_prompt
from agent.tools import Tool, Toolbox, ToolLike


Purpose = Literal["question", "task"]

INSTRUCTIONS: dict[Purpose, str] = {
    "question": 'Answer the question. Be brief, and finish with "The answer is ...".',
    "task": "You are carrying out one task of a larger objective. Be brief and factual.",
}
"""What the system prompt opens with unless the caller gives instructions."""

LAYOUT_STOPS: dict[Layout, tuple[str, ...]] = {"question": ("\n",), "chat": ()}
"""A question's answer is one line, as in the examples."""


@dataclass(frozen=True)
class Decoding:
    """How an agent decodes on its model: the model's recipe for the agent's purpose,
    with what the caller chose explicitly on top, within what the model can do."""

    grammar: bool
    trigger: CallTrigger | None
    examples: int
    check_arithmetic: bool
    layout: Layout
    native: bool


class Agent:
    """A Toolformer-style agent: the model writes calls inline, the agent runs them and
    splices the results back for the model to continue from."""

    def __init__(
        self, *, model: Model | str | None = None, tools: Iterable[ToolLike] = (),
        instructions: str | None = None, markup: Markup = DEFAULT_MARKUP, purpose: Purpose = "question",
        max_calls: int = DEFAULTS.max_calls, max_tokens: int = DEFAULTS.max_tokens,
        timeout: float | None = DEFAULTS.timeout, tool_timeout: float = DEFAULTS.tool_timeout,
        no_progress: int = DEFAULTS.no_progress, stop: Iterable[str] = DEFAULTS.stop,
        temperature: float = DEFAULTS.temperature, seed: int | None = DEFAULTS.seed,
        trigger: CallTrigger | None = None, max_examples: int | None = None, max_example_chars: int | None = None,
        constrain: bool | None = None, check_arithmetic: bool | None = None, layout: Layout | None = None,
        tool_choice: str | None = None,
    ) -> None:
        """Settings left as None come from the model's recipe for `purpose` (its
        declared `Capabilities.profile`, measured by the evals):
        `constrain`: decode each call's arguments under its tool's grammar (agent.grammar);
        `trigger`: start a call when its marker is among the k likeliest tokens (or never);
        `max_examples`: few-shot examples per tool; `check_arithmetic`: recompute each
        `a op b =` the model writes and splice the value; `layout`: "question" asks
        `Question: …` and continues after `Answer:`, "chat" uses the model's chat turns.
        `tool_choice` ("auto", "required", "none" or a tool's name) is sent to models
        with native function calling. `max_example_chars`: by default from the context size.
        `instructions`: None opens the system prompt with `INSTRUCTIONS[purpose]`."""
        if max_examples is not None and max_examples < 0:
            raise ConfigError(f"max_examples must be zero or more, got {max_examples}")
        self.settings = Settings(max_calls=max_calls, max_tokens=max_tokens, timeout=timeout,
                                 tool_timeout=tool_timeout, no_progress=no_progress, stop=tuple(stop),
                                 temperature=temperature, seed=seed)
        self._model_spec = model
        self._model: Model | None = model if isinstance(model, Model) else None
        self.toolbox = Toolbox(tools)
        self.instructions = INSTRUCTIONS[purpose] if instructions is None else instructions
        self.purpose: Purpose = purpose
        self.max_examples = max_examples
        self.max_example_chars = max_example_chars
        self.config = LoopConfig(markup=markup, settings=self.settings, trigger=trigger, tool_choice=tool_choice)
        self.constrain = constrain
        self.check_arithmetic = check_arithmetic
        self.layout = layout
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

    def decoding(self) -> Decoding:
        """The settings this agent decodes with on its model."""
        caps = self.model.capabilities
        recipe = caps.profile.question if self.purpose == "question" else caps.profile.task
        native = caps.native_tools and bool(self.toolbox)
        grammar = self.constrain if self.constrain is not None else recipe.grammar and caps.grammar
        trigger = self.config.trigger
        if trigger is None and caps.grammar and recipe.trigger_k > 0:
            trigger = CallTrigger(self.config.markup.open.strip(), k=recipe.trigger_k)
        check = self.check_arithmetic if self.check_arithmetic is not None else recipe.check_arithmetic
        layout = self.layout or (recipe.layout if recipe.layout in caps.layouts else "chat")
        examples = self.max_examples if self.max_examples is not None else recipe.examples
        return Decoding(grammar=bool(grammar) and bool(self.toolbox) and not native,
                        trigger=trigger if self.toolbox and not native else None, examples=examples,
                        check_arithmetic=check, layout=layout, native=native)

    def system_prompt(self) -> str:
        decoding = self.decoding()
        budget = self.max_example_chars
        if budget is None:
            budget = example_budget(self.model.capabilities.context_window)
        tools = [] if decoding.native else self.tools
        return system_prompt(tools, markup=self.config.markup, instructions=self.instructions,
                             max_examples=decoding.examples, max_example_chars=budget)

    def loop_config(self) -> LoopConfig:
        """The loop's settings for this agent's model: call grammars, trigger, arithmetic
        check and native tools as `decoding()` says."""
        decoding = self.decoding()
        stop = tuple(dict.fromkeys(self.settings.stop + LAYOUT_STOPS[decoding.layout]))
        config = replace(self.config, trigger=decoding.trigger, check_arithmetic=decoding.check_arithmetic,
                         settings=replace(self.settings, stop=stop))
        if decoding.native:
            return replace(config, tools=tuple(t.spec() for t in self.tools))
        if not decoding.grammar:
            return config
        markup = self.config.markup
        return replace(config, grammar_for=grammar_for(self.toolbox, markup),
                       call_grammar=call_grammar(self.toolbox, markup))

    def prompt(self, task: str, *, prefix: str = "") -> Prompt:
        return Prompt(self.system_prompt(), task, prefix, layout=self.decoding().layout)

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
        """Stop what the agent started: its tool sources' servers, its async tools' loop."""
        try:
            self.toolbox.close()
        finally:
            self._dispatcher.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class _Failure:
    error: BaseException
