"""The one interface every model backend implements.

A backend streams the completion of a `Request`. It yields text chunks, honours the
request's stop sequences (the stop text itself is never yielded), and records what it
spent and why it stopped on the `Completion` it is handed, as it goes: the caller may
close the stream early (it does so as soon as a tool call closes), and whatever was
recorded up to then stands.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

FinishReason = Literal["end", "stop", "length"]
"""end: the model ended its text; stop: a stop sequence matched; length: max_tokens reached."""


@dataclass(frozen=True)
class Prompt:
    """What the model is asked: a system text, the user's message, and the assistant's
    text so far, which the model continues (empty on the first request)."""

    system: str
    user: str
    assistant: str = ""

    def extend(self, text: str) -> Prompt:
        return Prompt(self.system, self.user, self.assistant + text)


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

    def stream(self, request: Request, completion: Completion) -> Iterator[str]:
        """Yield the continuation of `request.prompt` in chunks; record usage and the
        finish reason on `completion`."""
        ...
