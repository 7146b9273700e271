"""Ask a model for JSON under a schema, retrying a bounded number of times when the
reply does not parse or does not fit."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from agent.errors import ModelError, UserError
from agent.models.base import Completion, Model, Prompt, Request, Usage

T = TypeVar("T")

RETRY_HINT = (
    "\n\nYour previous reply could not be used: {problem}. Reply with one JSON object "
    "that follows the schema, and nothing else."
)


@dataclass
class Structured(Generic[T]):
    """The parsed value (None when every attempt failed) and what the attempts cost."""

    value: T | None = None
    attempts: int = 0
    usage: Usage = field(default_factory=Usage)
    replies: list[str] = field(default_factory=list)
    cancelled: bool = False


def ask_structured(
    model: Model, *, system: str, user: str, schema: Mapping[str, Any], parse: Callable[[Any], T | None],
    max_tokens: int, retries: int = 0, cancel: threading.Event | None = None,
) -> Structured[T]:
    """Up to `1 + retries` requests with `response_schema=schema`; `parse` turns the
    decoded JSON into a value or None (rejected)."""
    out: Structured[T] = Structured()
    problem = ""
    for attempt in range(retries + 1):
        prompt_user = user + (RETRY_HINT.format(problem=problem) if problem else "")
        request = Request(prompt=Prompt(system, prompt_user), max_tokens=max_tokens,
                          temperature=0.0 if attempt == 0 else 0.4, seed=attempt or None,
                          response_schema=schema)
        text, cancelled = collect(model, request, out.usage, cancel)
        out.attempts += 1
        out.replies.append(text)
        if cancelled:
            out.cancelled = True
            return out
        data = decode_json(text)
        if data is None:
            problem = "it was not valid JSON"
            continue
        value = parse(data)
        if value is not None:
            out.value = value
            return out
        problem = "it did not follow the schema"
    return out


def collect(model: Model, request: Request, usage: Usage, cancel: threading.Event | None) -> tuple[str, bool]:
    """The whole reply to `request` (usage added to `usage`), and whether `cancel` cut it."""
    parts: list[str] = []
    stream = guarded_stream(model, request, usage)
    try:
        for chunk in stream:
            parts.append(chunk)
            if cancel is not None and cancel.is_set():
                return "".join(parts), True
    finally:
        stream.close()
    return "".join(parts), False


def guarded_stream(model: Model, request: Request, usage: Usage) -> Generator[str, None, None]:
    """`model.stream(request)`, its usage added to `usage` when it ends or is closed, and
    any backend failure raised as `ModelError`."""
    completion = Completion()
    stream: Iterator[str] | None = None
    try:
        stream = model.stream(request, completion)
        yield from stream
    except (UserError, ModelError, GeneratorExit):
        raise
    except Exception as exc:
        raise ModelError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        usage.add(completion.usage)


def decode_json(text: str) -> Any:
    """The JSON value in `text`: the whole text, else the span from the first `{` or `[`
    to the last matching bracket (models like to wrap JSON in prose or fences)."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            try:
                return json.loads(text[start : end + 1])
            except ValueError:
                continue
    return None
