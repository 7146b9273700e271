"""Models for tests: scripted outputs and plain functions, honouring stop sequences and
token budgets exactly as a real backend does. Use them to test your own agents."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from agent.errors import UserError
from agent.models.base import Capabilities, Completion, Request

TEST_CAPABILITIES = Capabilities(layouts=("chat", "question"))
"""What a test model declares unless told otherwise: no grammar, no native tools; it
takes prompts in either layout as they are."""

Output = str | Sequence[str]
"""One reply: a text (streamed in chunks of `chunk_size` characters) or explicit chunks."""


class ScriptExhausted(UserError):
    """The model was asked for more replies than its script holds."""


@dataclass
class _Recorder:
    requests: list[Request] = field(default_factory=list)
    _last_prompt: str = ""

    def record(self, request: Request, completion: Completion) -> None:
        self.requests.append(request)
        text = prompt_text(request)
        last = self._last_prompt
        shared = len(last) if text.startswith(last) else _common_prefix(text, last)
        completion.usage.requests += 1
        completion.usage.prompt_tokens += _tokens(text)
        completion.usage.evaluated_tokens += _tokens(text) - _tokens(text[:shared])
        self._last_prompt = text


def prompt_text(request: Request) -> str:
    p = request.prompt
    return f"{p.system}\n\n{p.user}\n\n{p.assistant}"


def _tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _chunks(output: Output, size: int) -> list[str]:
    if isinstance(output, str):
        return [output[i : i + size] for i in range(0, len(output), size)]
    return list(output)


def _stream(chunks: list[str], request: Request, completion: Completion) -> Iterator[str]:
    """Each chunk counts as one token; stop sequences cut the text where they begin."""
    text = "".join(chunks)
    cut, matched = len(text), None
    for stop in request.stop:
        at = text.find(stop)
        if 0 <= at < cut:
            cut, matched = at, stop
    emitted = 0
    for chunk in chunks:
        if emitted >= cut:
            break
        if completion.usage.completion_tokens >= request.max_tokens:
            completion.finish_reason = "length"
            return
        piece = chunk[: cut - emitted]
        emitted += len(chunk)
        completion.usage.completion_tokens += 1
        if piece:
            yield piece
    if matched is not None:
        completion.finish_reason, completion.stop_sequence = "stop", matched
    else:
        completion.finish_reason = "end"


class _Recording:
    """What both test models share: a name, and every request they were sent."""

    def __init__(self, *, chunk_size: int, name: str, capabilities: Capabilities) -> None:
        self.chunk_size = chunk_size
        self._name = name
        self._capabilities = capabilities
        self._recorder = _Recorder()

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        """What the test model declares (nothing by default): declare `grammar=True` or
        `native_tools=True` to test what an agent does with such a model."""
        return self._capabilities

    @property
    def requests(self) -> list[Request]:
        return self._recorder.requests

    @property
    def prompts(self) -> list[str]:
        return [prompt_text(r) for r in self.requests]

    def _reply(self, output: Output, request: Request, completion: Completion) -> Iterator[str]:
        self._recorder.record(request, completion)
        return _stream(_chunks(output, self.chunk_size), request, completion)


class ScriptedModel(_Recording):
    """Replies with `outputs`, one per request, in order. Like a real model it is cut
    off when the caller stops reading (at a call), and the next request gets the next
    reply."""

    def __init__(self, outputs: Iterable[Output], *, chunk_size: int = 3, name: str = "scripted",
                 capabilities: Capabilities = TEST_CAPABILITIES) -> None:
        super().__init__(chunk_size=chunk_size, name=name, capabilities=capabilities)
        self._outputs = list(outputs)
        self._next = 0

    def stream(self, request: Request, completion: Completion) -> Iterator[str]:
        if self._next >= len(self._outputs):
            raise ScriptExhausted(f"the script has {len(self._outputs)} replies; request {self._next + 1} came")
        self._next += 1
        return self._reply(self._outputs[self._next - 1], request, completion)

    @property
    def remaining(self) -> int:
        return len(self._outputs) - self._next

    def assert_complete(self) -> None:
        if self.remaining:
            raise AssertionError(f"{self.remaining} scripted replies were never requested")


class FunctionModel(_Recording):
    """Replies with whatever `fn(request)` returns: a text or a sequence of chunks."""

    def __init__(self, fn: Callable[[Request], Output], *, chunk_size: int = 3, name: str = "function",
                 capabilities: Capabilities = TEST_CAPABILITIES) -> None:
        super().__init__(chunk_size=chunk_size, name=name, capabilities=capabilities)
        self.fn = fn

    def stream(self, request: Request, completion: Completion) -> Iterator[str]:
        return self._reply(self.fn(request), request, completion)
