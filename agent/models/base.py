"""The one interface every model backend implements.

A backend streams the completion of a `Request`. It yields text chunks, honours the
request's stop sequences (the stop text itself is never yielded), and records what it
spent and why it stopped on the `Completion` it is handed, as it goes: the caller may
close the stream early (it does so as soon as a tool call closes), and whatever was
recorded up to then stands.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from agent.frozen import quick_init

if TYPE_CHECKING:
    from agent.markup import Markup
    from agent.parts import Part

FinishReason = Literal["end", "stop", "length"]
"""end: the model ended its text; stop: a stop sequence matched; length: max_tokens reached."""

StructuredForm = Literal["json_schema", "json_object", "grammar"]
"""How a reply can be held to a JSON schema: OpenAI's `response_format` json_schema, the
json_object form with a schema (llama.cpp's server), or a GBNF grammar."""

Layout = Literal["chat", "question"]
"""How a prompt is laid out: the model's chat turns, or plain text that asks
`Question: …` and continues after `Answer:` (what suits tiny and pretrained models)."""


@dataclass(frozen=True)
class Recipe:
    """The decoding settings that worked best for a model on one kind of work, as its
    evals measured them (benchmarks/RESULTS.md). `Agent` starts from these."""

    grammar: bool = True
    """Decode each call under its tool's grammar (where the model can follow one)."""
    trigger_k: int = 0
    """Toolformer's top-k call trigger; 0: the model decides alone."""
    examples: int = 2
    """Few-shot examples per tool in the system prompt."""
    check_arithmetic: bool = False
    """Recompute each `a op b =` the model writes."""
    layout: Layout = "chat"


@dataclass(frozen=True)
class Profile:
    """A model's recipes: for a question answered in one pass (`agent run --single`),
    and for one task of a planned objective."""

    question: Recipe = field(default_factory=Recipe)
    task: Recipe = field(default_factory=Recipe)


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, declared by the backend and passed through by every
    wrapper; the framework reads this and never guesses from attributes."""

    grammar: bool = False
    """Honours `Request.grammar` (GBNF) and `Request.trigger`."""
    context_window: int | None = None
    """Tokens of prompt plus completion, when known."""
    native_tools: bool = False
    """Takes `Request.tools` and returns the model's own function calls (as markup)."""
    structured: tuple[StructuredForm, ...] = ()
    """The forms of structured output it accepts, in order of preference."""
    exact_usage: bool = False
    """Usage is counted by the backend itself, not estimated."""
    prefix_cache: bool = False
    """A continuation evaluates only what its cache does not already hold."""
    layouts: tuple[Layout, ...] = ("chat",)
    """Prompt layouts it renders."""
    profile: Profile = field(default_factory=Profile)
    """The settings its evals showed best (catalog models); defaults otherwise."""


@quick_init
@dataclass(frozen=True)
class Prompt:
    """What the model is asked: a system text, the user's message, and the assistant's
    text so far, which the model continues (empty on the first request)."""

    system: str
    user: str
    assistant: str = ""
    layout: Layout = "chat"
    parts: tuple[Part, ...] | None = None
    """`assistant` as typed parts, when the caller keeps them (the loop does): a backend
    that needs the calls (native function calling) reads them here. None: read them
    from `assistant`."""

    def extend(self, text: str) -> Prompt:
        parts = None if self.parts is None else (*self.parts, text)
        if type(self) is not Prompt:
            return replace(self, assistant=self.assistant + text, parts=parts)
        return Prompt(self.system, self.user, self.assistant + text, self.layout, parts)  # replace() is slow

    def record(self, markup: Markup | None = None) -> tuple[Part, ...]:
        """The assistant text as parts (read from the text when none were given)."""
        if self.parts is not None:
            return self.parts
        from agent.parts import parts_of  # the detector loads only where text is read back

        return parts_of(self.assistant, *(() if markup is None else (markup,)))


@dataclass(frozen=True)
class ToolSpec:
    """A tool as a backend with native function calling sees it."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class CallTrigger:
    """Start a call whenever `text` is among the `k` most likely next tokens (k=0: off).
    `disabled=True` never lets a call start."""

    text: str = "["
    k: int = 0
    disabled: bool = False


@quick_init
@dataclass(frozen=True)
class Request:
    prompt: Prompt
    stop: tuple[str, ...] = ()
    max_tokens: int = 512
    temperature: float = 0.0
    seed: int | None = None
    grammar: str | None = None
    """GBNF grammar the continuation must follow; backends that cannot constrain ignore it."""
    response_schema: Mapping[str, Any] | None = None
    """JSON schema the whole reply must follow (structured output): llama.cpp turns it
    into a grammar, OpenAI-compatible servers get it as `response_format`."""
    tools: tuple[ToolSpec, ...] = ()
    """Filled only for backends in the native function-calling dialect."""
    trigger: CallTrigger | None = None
    response_form: StructuredForm = "json_schema"
    """How `response_schema` is sent, one of the model's `Capabilities.structured`."""
    tool_choice: str | None = None
    """Native function calling: "auto", "required", "none" or a tool's name."""


@dataclass
class Usage:
    prompt_tokens: int = 0
    """Tokens of prompt the model was sent (including any it had cached)."""
    evaluated_tokens: int = 0
    """Tokens of prompt the model actually had to evaluate (the rest came from its cache)."""
    completion_tokens: int = 0
    requests: int = 0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.evaluated_tokens += other.evaluated_tokens
        self.completion_tokens += other.completion_tokens
        self.requests += other.requests

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Completion:
    """Filled in by the backend while it streams."""

    usage: Usage = field(default_factory=Usage)
    finish_reason: FinishReason | None = None
    stop_sequence: str | None = None


@runtime_checkable
class Model(Protocol):
    """A language model backend."""

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    def stream(self, request: Request, completion: Completion) -> Iterator[str]:
        """Yield the continuation of `request.prompt` in chunks; record usage and the
        finish reason on `completion`."""
        ...


class WrappedModel:
    """A model around another: it answers by the inner model's name and with its
    capabilities, and streams what the inner model streams unless a subclass says more."""

    def __init__(self, inner: Model) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def stream(self, request: Request, completion: Completion) -> Iterator[str]:
        return self.inner.stream(request, completion)
