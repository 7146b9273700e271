"""The OpenAI backend, also for OpenAI-compatible servers (`base_url`).

mode="chat" (chat completions) or "completions" (the legacy text endpoint, which continues
the rendered prompt directly). dialect="inline" keeps the framework's inline markup; a
chat model that cannot continue a partial assistant message is asked to continue it
(see `openai_messages`). dialect="native" uses the API's function calling and turns its
tool calls into inline markup. In the native dialect the toolbox goes out as `tools`
with `tool_choice` ("auto" unless the request or the model names another); a forced
choice ("required" or a tool's name) holds only until the transcript has a call's
result, then the request goes out as "none" so the model answers from it. A server that
cannot stream a call the model chose (llama.cpp's, which then closes the stream empty)
is asked again without streaming, and requests with tools stay unstreamed for the rest
of the model's life (`stream_tools=False` starts that way). Any chat stream that closes
without a single chunk is asked again unstreamed, which returns the reply or the error
the server met.

Stop sequences are matched on the client, so the stop text never leaks and
`completion.stop_sequence` names it; by default the first four are also sent to the
server (`server_stop`), which saves tokens, but a stop the server applied cannot be told
from a natural end and is reported as finish_reason "end".

Usage: the server's exact usage when its final chunk arrives (stream_options
include_usage; `include_usage=False` for servers that reject the option); until then, and when the stream is closed early, `prompt_tokens` is an
estimate (characters / 4) and `completion_tokens` counts streamed chunks.
`evaluated_tokens` subtracts the cached prompt tokens the server reports.

Constraints: `response_schema` is sent in the form `request.response_form` names, which
must be one the model declares (`capabilities.structured`): "json_schema" as OpenAI's
`response_format` json_schema, "json_object" as `{"type": "json_object", "schema": ...}`
(llama.cpp's server), "grammar" as the schema's GBNF in the `grammar_field` request field.
`schema_format="json_object"` declares json_object ahead of json_schema. A GBNF `grammar`
is ignored unless `grammar_field` names a field the server reads it from (llama.cpp: "grammar").

Retries are the backend's own (`openai_retry`): a request is sent again only when a later
try can succeed. A request with a `response_schema` that the server refuses for good
raises `FormRefused`, so the caller can ask in another form; a prompt the server finds
too long raises `ContextOverflow`. A `client` passed in keeps whatever retries it was
built with (build it with max_retries=0 to leave them to the backend).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import Any, Literal

import openai

from agent.errors import ConfigError, FormRefused, ModelError, UserError
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
from agent.models.openai_retry import can_succeed_later, context_overflow, with_retries
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
        stream_tools: bool = True,
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
        if max_retries < 0:
            raise ConfigError(f"max_retries must be zero or more, got {max_retries}")
        self.model = model
        self.mode = mode
        self.dialect = dialect
        self.max_retries = max_retries
        self.server_stop = server_stop
        self.tool_choice = tool_choice
        self.stream_tools = stream_tools
        self.max_tokens_param = max_tokens_param
        self.grammar_field = grammar_field
        self.include_usage = include_usage
        self.render = render or plain_render
        self.markup = markup
        self.continue_instruction = continue_instruction
        self.client = client or _client(base_url, api_key, timeout=timeout)
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
        if self.mode == "completions":
            prompt = self.render(request.prompt)
            usage.prompt_tokens = usage.evaluated_tokens = _estimate(prompt)
            params = self._params(request)
            chunks: Any = self._send(lambda: self.client.completions.create(prompt=prompt, **params), request)
            with chunks:
                received = yield from self._read(chunks, request, completion)
            if not received:
                raise ModelError(f"{self.name}: the server closed the stream without sending anything")
            return
        messages = self.messages(request)
        usage.prompt_tokens = usage.evaluated_tokens = _estimate(messages)
        params = self._params(request, answered=any(m["role"] == "tool" for m in messages))
        if "tools" in params and not self.stream_tools:
            yield from self._whole(messages, params, request, completion)
            return
        chunks = self._send(lambda: self.client.chat.completions.create(messages=messages, **params), request)  # type: ignore[arg-type]
        with chunks:
            received = yield from self._read(chunks, request, completion)
        if not received:
            # The server failed after answering 200 (llama.cpp's does so for a call it
            # cannot stream, or a prompt too long): unstreamed, it says what it has.
            self.stream_tools = self.stream_tools and "tools" not in params
            yield from self._whole(messages, params, request, completion)

    def _send(self, send: Callable[[], Any], request: Request) -> Any:
        """`send()` with the backend's retries; refusals as the framework's errors."""
        try:
            return with_retries(send, retries=self.max_retries)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
            raise OpenAIRefused(f"{self.name}: the server refused the credentials: {error}") from error
        except openai.NotFoundError as error:
            raise OpenAIRefused(f"{self.name}: the server does not know this model or endpoint: {error}") from error
        except openai.APIConnectionError as error:  # also APITimeoutError
            raise ModelError(f"{self.name}: no answer from {self.client.base_url} ({error})") from error
        except openai.APIStatusError as error:
            overflow = context_overflow(error)
            if overflow is not None:
                raise overflow from error
            if request.response_schema is not None and not can_succeed_later(error):
                raise FormRefused(request.response_form, error.message) from error
            raise

    def _params(self, request: Request, *, answered: bool = False) -> dict[str, Any]:
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
        extra = self._constraints(request, params)
        if extra:
            params["extra_body"] = extra
        if self.dialect == "native" and request.tools:
            params["tools"] = [tool_schema(t) for t in request.tools]
            params["tool_choice"] = _tool_choice(request.tool_choice or self.tool_choice, answered)
        return params

    def _constraints(self, request: Request, params: dict[str, Any]) -> dict[str, str]:
        """Sets `response_format` in `params`; returns the extra body fields (a grammar)."""
        extra: dict[str, str] = {}
        if request.grammar is not None and self.grammar_field:
            extra[self.grammar_field] = request.grammar
        schema = request.response_schema
        if schema is None:
            return extra
        form = request.response_form
        if form not in self.capabilities.structured:
            declared = ", ".join(self.capabilities.structured) or "none"
            raise ConfigError(f"{self.name} does not take structured output as {form} (it takes: {declared})")
        if form != "grammar":
            params["response_format"] = _response_format(form, schema)
        elif extra:
            raise ConfigError("a request takes a grammar or a response_schema in the grammar form, not both")
        else:
            extra[str(self.grammar_field)] = _schema_grammar(schema)
        return extra

    def _read(self, chunks: Any, request: Request, completion: Completion) -> Generator[str, None, bool]:
        """Yields the streamed text, then each tool call as markup; returns whether the
        server sent any chunk at all."""
        usage = completion.usage
        stops = StopMatcher(request.stop)
        calls: dict[int, dict[str, str]] = {}
        server_finish: str | None = None
        exact = received = False
        for chunk in chunks:
            received = True
            if chunk.usage is not None:
                _record_usage(completion, chunk.usage)
                exact = True
            for choice in chunk.choices[:1]:
                text = self._choice_text(choice, calls)
                if choice.finish_reason:
                    server_finish = choice.finish_reason
                if not exact and (text or getattr(getattr(choice, "delta", None), "tool_calls", None)):
                    usage.completion_tokens += 1
                if text:
                    emit, stop = stops.feed(text)
                    if emit:
                        yield emit
                    if stop is not None:
                        completion.finish_reason, completion.stop_sequence = "stop", stop
                        return True
        if received:
            yield from self._ending(stops, [(c["name"], c["arguments"]) for _, c in sorted(calls.items())],
                                    server_finish, completion)
        return received

    def _whole(self, messages: list[Message], params: dict[str, Any], request: Request,
               completion: Completion) -> Iterator[str]:
        """One unstreamed chat request: its text, then its tool calls as markup."""
        whole = {k: v for k, v in params.items() if k != "stream_options"} | {"stream": False}
        response: Any = self._send(lambda: self.client.chat.completions.create(messages=messages, **whole), request)  # type: ignore[arg-type]
        if response.usage is not None:
            _record_usage(completion, response.usage)
        if not response.choices:
            completion.finish_reason = "end"
            return
        choice = response.choices[0]
        message = choice.message
        text = str(message.content or "")
        if response.usage is None:
            completion.usage.completion_tokens = _estimate(text)
        stops = StopMatcher(request.stop)
        emit, stop = stops.feed(text)
        if emit:
            yield emit
        if stop is not None:
            completion.finish_reason, completion.stop_sequence = "stop", stop
            return
        calls = [(c.function.name, c.function.arguments or "") for c in message.tool_calls or () if c.function]
        yield from self._ending(stops, calls, choice.finish_reason, completion)

    def _ending(self, stops: StopMatcher, calls: Sequence[tuple[str, str]], server_finish: str | None,
                completion: Completion) -> Iterator[str]:
        completion.finish_reason = _finish(server_finish, bool(calls))
        rest = stops.flush()
        if rest:
            yield rest
        for name, arguments in calls:
            yield call_markup(name, arguments, self.markup)

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


def _tool_choice(choice: str | dict[str, Any] | None, answered: bool) -> str | dict[str, Any]:
    """The `tool_choice` sent: "auto" by default; a tool's name as the API's named form.
    A forced choice ("required" or a name) forces the first call only: once a call has
    been answered the request goes out as "none", so the model answers from the result
    instead of calling again and again."""
    if choice is None:
        return "auto"
    if answered and choice not in ("auto", "none"):
        return "none"
    if isinstance(choice, str) and choice not in ("auto", "required", "none"):
        return {"type": "function", "function": {"name": choice}}
    return choice


def _response_format(form: StructuredForm, schema: Mapping[str, Any]) -> dict[str, Any]:
    if form == "json_object":
        return {"type": "json_object", "schema": dict(schema)}
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": dict(schema)}}


def _schema_grammar(schema: Mapping[str, Any]) -> str:
    # llama.cpp's schema converter; imported here so the OpenAI backend loads without it
    # until a request asks for the grammar form.
    from agent.models.llama_sampling import schema_grammar

    return schema_grammar(schema)


def _finish(server_finish: str | None, called: bool) -> FinishReason:
    if server_finish == "length" and not called:
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


def _client(base_url: str | None, api_key: str | None, *, timeout: float) -> openai.OpenAI:
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if not key:
        if base_url is None or OPENAI_HOST in base_url:
            raise UserError(
                "OPENAI_API_KEY is not set: export it (or pass api_key=...) to use OpenAI models, "
                "or give base_url for an OpenAI-compatible server that needs no key"
            )
        key = "no-key"
    return openai.OpenAI(api_key=key, base_url=base_url, max_retries=0, timeout=timeout)
