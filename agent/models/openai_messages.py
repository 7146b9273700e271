"""Chat messages for the OpenAI backend, in both dialects.

Inline: the assistant's text so far (calls and results spliced in) is sent as one
assistant message, followed by a short user message asking the model to continue exactly
where it stopped; the caller concatenates, so the transcript reads as one text.

Native: completed calls in the assistant's text become assistant `tool_calls` and `tool`
messages; a tool call the model makes is turned into inline markup text, so the
framework's detector sees it like any inline call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agent.markup import (
    DEFAULT_MARKUP,
    Markup,
    format_arguments,
    parse_literal_arguments,
)
from agent.models.base import Prompt, ToolSpec
from agent.parts import CallRecord, rendered

CONTINUE_INSTRUCTION = (
    "Continue your previous message exactly from where it stopped, as if it had never been "
    "interrupted (the result of your last tool call is already in it). Do not repeat anything "
    "already written and do not comment on this request."
)

Message = dict[str, Any]


def inline_messages(prompt: Prompt, *, continue_instruction: str = CONTINUE_INSTRUCTION) -> list[Message]:
    messages = _opening(prompt)
    if prompt.assistant:
        messages.append({"role": "assistant", "content": prompt.assistant})
        messages.append({"role": "user", "content": continue_instruction})
    return messages


def native_messages(
    prompt: Prompt,
    tools: Sequence[ToolSpec] = (),
    *,
    markup: Markup = DEFAULT_MARKUP,
    continue_instruction: str = CONTINUE_INSTRUCTION,
) -> list[Message]:
    """Messages with the completed calls of `prompt.assistant` as tool calls and results."""
    messages = _opening(prompt)
    text = ""
    number = 0
    for part in prompt.record(markup):
        if not isinstance(part, CallRecord) or (part.result is None and part.error is None):
            text += rendered([part])
            continue
        call_id = f"call_{number}"
        number += 1
        arguments = json.dumps(call_arguments(part, tools), ensure_ascii=False, default=_jsonable)
        messages.append(
            {
                "role": "assistant",
                "content": text,
                "tool_calls": [
                    {"id": call_id, "type": "function", "function": {"name": part.name, "arguments": arguments}}
                ],
            }
        )
        content = part.result if part.error is None else f"Error: {part.error}"
        messages.append({"role": "tool", "tool_call_id": call_id, "content": content})
        text = ""
    if text.strip():
        messages.append({"role": "assistant", "content": text})
        messages.append({"role": "user", "content": continue_instruction})
    return messages


def _opening(prompt: Prompt) -> list[Message]:
    messages: list[Message] = []
    if prompt.system:
        messages.append({"role": "system", "content": prompt.system})
    messages.append({"role": "user", "content": prompt.user})
    return messages


def call_arguments(call: CallRecord, tools: Sequence[ToolSpec] = ()) -> dict[str, Any]:
    """The JSON arguments of a call: the arguments it was bound to when the record has
    them, else those written in markup: keyword arguments by name, positional ones
    matched to the tool's parameters in order, and raw text (not Python literals) given
    to the first parameter."""
    if call.arguments is not None:
        return dict(call.arguments)
    spec = next((t for t in tools if t.name == call.name), None)
    names = list((spec.parameters.get("properties") or {}) if spec is not None else {})
    literal = parse_literal_arguments(call.raw)
    if literal is None:
        return {names[0] if names else "input": call.raw}
    args, kwargs = literal
    arguments: dict[str, Any] = {}
    free = [n for n in names if n not in kwargs]
    if len(args) > len(free):
        arguments["args"] = list(args)
    else:
        arguments.update(zip(free, args))
    arguments.update(kwargs)
    return arguments


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)


def tool_schema(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def call_markup(name: str, arguments: str, markup: Markup = DEFAULT_MARKUP) -> str:
    """A native tool call as inline markup: `[name(key=value, ...)]`. Arguments that are
    not a JSON object are passed through as the raw text. Control characters inside
    strings are accepted (llama.cpp's grammars let raw newlines through)."""
    try:
        decoded = json.loads(arguments, strict=False) if arguments.strip() else {}
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and all(isinstance(k, str) and k.isidentifier() for k in decoded):
        return markup.call(name, format_arguments(**decoded))
    return markup.call(name, arguments)
