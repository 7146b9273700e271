"""Models for tests: scripted outputs and plain functions, honouring stop sequences and
token budgets exactly as a real backend does. Use them to test your own agents."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace

from agent.errors import UserError
from agent.models.base import Capabilities, Completion, Prompt, Request

TEST_CAPABILITIES = Capabilities(layouts=("chat", "question"))
"""What a test model declares unless told otherwise: no grammar, no native tools; it
takes prompts in either layout as they are."""

Output = str | Sequence[str]
"""One reply: a text (streamed in chunks of `chunk_size` characters) or explicit chunks."""


class ScriptExhausted(UserError):
    """The model was asked for more replies than its script holds."""


class _Recorder:
    """Every request, in memory linear in what was new in each: a request is kept
    without its assistant text, as the length it shares with the request before and its
    new text. The last assistant text is kept as a copy of its own, grown in place, so
    that the caller's transcript is not held (and can grow in place too)."""

    def __init__(self) -> None:
        self._kept: list[tuple[Request, int, str]] = []
        self._head: Prompt | None = None
        self._assistant = ""

    def record(self, request: Request, completion: Completion) -> None:
        prompt, head = request.prompt, self._head
        previous, self._assistant = self._assistant, ""
        shared = _common_prefix(previous, prompt.assistant)
        new = prompt.assistant[shared:]
        light = replace(prompt, assistant="")
        self._kept.append((replace(request, prompt=light), shared, new))
        size = _size(prompt)
        if head is not None and (head.system, head.user) == (prompt.system, prompt.user):
            common = size - len(prompt.assistant) + shared
        else:
            common = _common_prefix(prompt_text(replace(head, assistant=previous)), prompt_text(prompt)) if head else 0
        completion.usage.requests += 1
        completion.usage.prompt_tokens += _tokens(size)
        completion.usage.evaluated_tokens += _tokens(size) - _tokens(common)
        if shared < len(previous):
            previous = previous[:shared]
        if previous:
            previous += new  # in place: this recorder holds the only reference
        else:
            previous = new[:-1] + new[-1:]  # a copy, never the caller's own string
        self._head, self._assistant = light, previous

    @property
    def requests(self) -> list[Request]:
        out: list[Request] = []
        assistant = ""
        for light, shared, new in self._kept:
            assistant = assistant[:shared] + new
            out.append(replace(light, prompt=replace(light.prompt, assistant=assistant)))
        return out

    @property
    def last_prompt(self) -> Prompt | None:
        return None if self._head is None else replace(self._head, assistant=self._assistant)


def prompt_text(request_or_prompt: Request | Prompt) -> str:
    p = request_or_prompt.prompt if isinstance(request_or_prompt, Request) else request_or_prompt
    return f"{p.system}\n\n{p.user}\n\n{p.assistant}"


def _size(p: Prompt) -> int:
    """The length of `prompt_text(p)`, without building it."""
    return len(p.system) + len(p.user) + len(p.assistant) + 4


def _tokens(chars: int) -> int:
    return (chars + 3) // 4


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix of `a` and `b`."""
    if b.startswith(a):
        return len(a)
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


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
    """What both test models share: a name, and every request they were sent (with
    `record=False`, none: `requests` is empty and `last_prompt` None, and a prompt is not
    read, so a long run costs the model nothing per request beyond its reply; usage then
    counts every prompt token as evaluated)."""

    def __init__(self, *, chunk_size: int, name: str, capabilities: Capabilities, record: bool) -> None:
        self.chunk_size = chunk_size
        self._name = name
        self._capabilities = capabilities
        self._recorder = _Recorder() if record else None

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
        """Every request received, in order (rebuilt from what was kept of each)."""
        return [] if self._recorder is None else self._recorder.requests

    @property
    def prompts(self) -> list[str]:
        return [prompt_text(r) for r in self.requests]

    @property
    def last_prompt(self) -> Prompt | None:
        """The prompt of the last request, or None before the first."""
        return None if self._recorder is None else self._recorder.last_prompt

    def _reply(self, output: Output, request: Request, completion: Completion) -> Iterator[str]:
        if self._recorder is not None:
            self._recorder.record(request, completion)
        else:
            tokens = _tokens(_size(request.prompt))
            completion.usage.requests += 1
            completion.usage.prompt_tokens += tokens
            completion.usage.evaluated_tokens += tokens
        return _stream(_chunks(output, self.chunk_size), request, completion)


class ScriptedModel(_Recording):
    """Replies with `outputs`, one per request, in order. Like a real model it is cut
    off when the caller stops reading (at a call), and the next request gets the next
    reply."""

    def __init__(self, outputs: Iterable[Output], *, chunk_size: int = 3, name: str = "scripted",
                 capabilities: Capabilities = TEST_CAPABILITIES, record: bool = True) -> None:
        super().__init__(chunk_size=chunk_size, name=name, capabilities=capabilities, record=record)
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
                 capabilities: Capabilities = TEST_CAPABILITIES, record: bool = True) -> None:
        super().__init__(chunk_size=chunk_size, name=name, capabilities=capabilities, record=record)
        self.fn = fn

    def stream(self, request: Request, completion: Completion) -> Iterator[str]:
        return self._reply(self.fn(request), request, completion)
