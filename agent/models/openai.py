"""The OpenAI backend, also for OpenAI-compatible servers (`base_url`).

mode="chat" (chat completions) or "completions" (the legacy text endpoint, which continues
the rendered prompt directly). dialect="inline" keeps the framework's inline markup; a
chat model that cannot continue a partial assistant message is asked to continue it
(see `openai_messages`). dialect="native" uses the API's function calling and turns its
tool calls into inline markup.

Stop sequences are matched on the client, so the stop text never leaks and
`completion.stop_sequence` names it; by default the first four are also sent to the
server (`server_stop`), which saves tokens, but a stop the server applied cannot be told
from a natural end and is reported as finish_reason "end".

Usage: the server's exact usage when its final chunk arrives (stream_options
include_usage; `include_usage=False` for servers that reject the option); until then, and when the stream is closed early, `prompt_tokens` is an
estimate (characters / 4) and `completion_tokens` counts streamed chunks.
`evaluated_tokens` subtracts the cached prompt tokens the server reports.

Constraints: `response_schema` is sent as `response_format` (OpenAI's "json_schema" form,
or llama.cpp's `{"type": "json_object", "schema": ...}` with schema_format="json_object").
A GBNF `grammar` is ignored unless `grammar_field` names a request field the server reads
it from (llama.cpp servers: "grammar").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any, Literal

import openai

from agent.errors import ConfigError, UserError
from agent.markup import DEFAULT_MARKUP, Markup
from agent.models.base import Capabilities, Completion, FinishReason, Profile, Prompt, Request, StructuredForm
from agent.models.chat_template import plain_render
from agent.models.openai_messages import (
    CONTINUE_INSTRUCTION,
    Message,
    call_markup,
    inline_messages,
    native_messages,
    tool_schema,
)
from agent.models.stops import StopMatcher

OPENAI_HOST = "api.openai.com"
MAX_API_STOPS = 4


class OpenAIRefused(UserError):
    """The server rejected the credentials, the model or the endpoint."""


class OpenAIModel:
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        mode: Literal["chat", "completions"] = "chat",
        dialect: Literal["inline", "native"] = "inline",
        max_retries: int = 2,
        timeout: float = 120.0,
        server_stop: bool = True,
        tool_choice: str | dict[str, Any] | None = None,
        max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
        schema_format: Literal["json_schema", "json_object"] = "json_schema",
        grammar_field: str | None = None,
        include_usage: bool = True,
        render: Callable[[Prompt], str] | None = None,
        markup: Markup = DEFAULT_MARKUP,
        continue_instruction: str = CONTINUE_INSTRUCTION,
        client: openai.OpenAI | None = None,
        context_window: int | None = None,
        profile: Profile | None = None,
    ) -> None:
        if mode not in ("chat", "completions"):
            raise ConfigError(f"mode must be 'chat' or 'completions', not {mode!r}")
        if dialect not in ("inline", "native"):
            raise ConfigError(f"dialect must be 'inline' or 'native', not {dialect!r}")
        if dialect == "native" and mode != "chat":
            raise ConfigError("the native function-calling dialect needs mode='chat'")
        self.model = model
        self.mode = mode
        self.dialect = dialect
        self.server_stop = server_stop
        self.tool_choice = tool_choice
        self.max_tokens_param = max_tokens_param
        self.schema_format = schema_format
        self.grammar_field = grammar_field
        self.include_usage = include_usage
        self.render = render or plain_render
        self.markup = markup
        self.continue_instruction = continue_instruction
        self.client = client or _client(base_url, api_key, max_retries=max_retries, timeout=timeout)
        forms: tuple[StructuredForm, ...] = ("json_schema", "json_object") if mode == "chat" else ()
        if schema_format == "json_object":
            forms = forms[::-1]
        self._capabilities = Capabilities(
            grammar=grammar_field is not None, context_window=context_window, native_tools=dialect == "native",
            structured=forms + (("grammar",) if grammar_field else ()), exact_usage=include_usage,
            profile=profile or Profile(),
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    def __repr__(self) -> str:
        return f"OpenAIModel({self.model!r}, base_url={str(self.client.base_url)!r}, mode={self.mode!r}, dialect={self.dialect!r})"

    def messages(self, request: Request) -> list[Message]:
        """The chat messages a request sends."""
        if self.dialect == "native":
            return native_messages(
                request.prompt, request.tools, markup=self.markup, continue_instruction=self.continue_instruction
            )
        return inline_messages(request.prompt, continue_instruction=self.continue_instruction)

    def stream(self, request: Request, completion: Completion) -> Generator[str, None, None]:
        usage = completion.usage
        usage.requests = 1
        params = self._params(request)
        try:
            if self.mode == "chat":
                messages = self.messages(request)
                usage.prompt_tokens = usage.evaluated_tokens = _estimate(messages)
                chunks: Any = self.client.chat.completions.create(messages=messages, **params)  # type: ignore[arg-type]
            else:
                prompt = self.render(request.prompt)
                usage.prompt_tokens = usage.evaluated_tokens = _estimate(prompt)
                chunks = self.client.completions.create(prompt=prompt, **params)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
            raise OpenAIRefused(f"{self.name}: the server refused the credentials: {error}") from error
        except openai.NotFoundError as error:
            raise OpenAIRefused(f"{self.name}: the server does not know this model or endpoint: {error}") from error
        with chunks:
            yield from self._read(chunks, request, completion)

    def _params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "stream": True,
            "temperature": request.temperature,
            self.max_tokens_param: request.max_tokens,
        }
        if self.include_usage:
            params["stream_options"] = {"include_usage": True}
        if request.seed is not None:
            params["seed"] = request.seed
        stops = [s for s in request.stop if s][:MAX_API_STOPS]
        if stops and self.server_stop:
            params["stop"] = stops
        if request.response_schema is not None:
            if self.mode != "chat":
                raise ConfigError("a response_schema needs mode='chat' (response_format)")
            params["response_format"] = self._response_format(request.response_schema)
        if request.grammar is not None and self.grammar_field:
            params["extra_body"] = {self.grammar_field: request.grammar}
        if self.dialect == "native" and request.tools:
            params["tools"] = [tool_schema(t) for t in request.tools]
            choice = request.tool_choice or self.tool_choice
            if isinstance(choice, str) and choice not in ("auto", "required", "none"):
                choice = {"type": "function", "function": {"name": choice}}
            if choice is not None:
                params["tool_choice"] = choice
        return params

    def _response_format(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        if self.schema_format == "json_object":
            return {"type": "json_object", "schema": dict(schema)}
        return {"type": "json_schema", "json_schema": {"name": "response", "schema": dict(schema)}}

    def _read(self, chunks: Any, request: Request, completion: Completion) -> Iterator[str]:
        usage = completion.usage
        stops = StopMatcher(request.stop)
        calls: dict[int, dict[str, str]] = {}
        server_finish: str | None = None
        exact = False
        for chunk in chunks:
            if chunk.usage is not None:
                _record_usage(completion, chunk.usage)
                exact = True
            for choice in chunk.choices[:1]:
                text = self._choice_text(choice, calls)
                if choice.finish_reason:
                    server_finish = choice.finish_reason
                if text:
                    if not exact:
                        usage.completion_tokens += 1
                    emit, stop = stops.feed(text)
                    if emit:
                        yield emit
                    if stop is not None:
                        completion.finish_reason, completion.stop_sequence = "stop", stop
                        return
        completion.finish_reason = _finish(server_finish, calls)
        rest = stops.flush()
        if rest:
            yield rest
        for call in (calls[i] for i in sorted(calls)):
            yield call_markup(call["name"], call["arguments"], self.markup)

    def _choice_text(self, choice: Any, calls: dict[int, dict[str, str]]) -> str:
        if self.mode == "completions":
            return str(choice.text or "")
        delta = choice.delta
        for call in getattr(delta, "tool_calls", None) or ():
            entry = calls.setdefault(call.index, {"name": "", "arguments": ""})
            if call.function is not None:
                if call.function.name and not entry["name"]:
                    entry["name"] = call.function.name
                entry["arguments"] += call.function.arguments or ""
        return str(delta.content or "")


def _finish(server_finish: str | None, calls: dict[int, dict[str, str]]) -> FinishReason:
    if server_finish == "length" and not calls:
        return "length"
    return "end"


def _record_usage(completion: Completion, reported: Any) -> None:
    usage = completion.usage
    usage.prompt_tokens = int(reported.prompt_tokens or 0)
    usage.completion_tokens = int(reported.completion_tokens or 0)
    details = getattr(reported, "prompt_tokens_details", None)
    cached = int(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0
    usage.evaluated_tokens = max(0, usage.prompt_tokens - cached)


def _estimate(content: str | list[Message]) -> int:
    if isinstance(content, str):
        chars = len(content)
    else:
        chars = sum(len(str(m.get("content") or "")) + 4 for m in content)
    return max(1, (chars + 3) // 4)


def _client(base_url: str | None, api_key: str | None, *, max_retries: int, timeout: float) -> openai.OpenAI:
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if not key:
        if base_url is None or OPENAI_HOST in base_url:
            raise UserError(
                "OPENAI_API_KEY is not set: export it (or pass api_key=...) to use OpenAI models, "
                "or give base_url for an OpenAI-compatible server that needs no key"
            )
        key = "no-key"
    return openai.OpenAI(api_key=key, base_url=base_url, max_retries=max_retries, timeout=timeout)
