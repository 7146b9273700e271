"""Ask a model for JSON under a schema, retrying a bounded number of times when the
reply does not parse or does not fit.

The schema goes out in the first form the model declares (`Capabilities.structured`);
when the server refuses that form (`FormRefused`) the next is tried, and after the
declared ones plain text, read leniently. `Forms` remembers what was refused, so a run
that keeps one asks each later question in a form that works.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from agent.errors import FormRefused, ModelError, UserError
from agent.models.base import Completion, Model, Prompt, Request, StructuredForm, Usage

T = TypeVar("T")

RETRY_HINT = (
    "\n\nYour previous reply could not be used: {problem}. Reply with one JSON object "
    "that follows the schema, and nothing else."
)


class Flag(Protocol):
    """What a step checks between chunks to stop early: a `threading.Event`, or `Stops`."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Stops:
    """Set once `cancel` is set or the clock reaches `deadline` (`time.monotonic()`)."""

    cancel: Flag | None = None
    deadline: float | None = None

    def is_set(self) -> bool:
        if self.cancel is not None and self.cancel.is_set():
            return True
        return self.deadline is not None and time.monotonic() >= self.deadline


Form = StructuredForm | Literal["text"]
"""A structured-output form, or "text": no constraint, the reply read leniently."""


class Forms:
    """The forms to ask a model in, best first: those it declares, then plain text.
    A refused form is dropped for as long as this object lives."""

    def __init__(self, model: Model) -> None:
        self.order: list[Form] = [*model.capabilities.structured, "text"]
        self.refused: list[Form] = []

    @property
    def current(self) -> Form:
        return self.order[0]

    def refuse(self, form: Form) -> None:
        if form in self.order and form != "text":
            self.order.remove(form)
            self.refused.append(form)


@dataclass
class Structured(Generic[T]):
    """The parsed value (None when every attempt failed) and what the attempts cost."""

    value: T | None = None
    attempts: int = 0
    usage: Usage = field(default_factory=Usage)
    replies: list[str] = field(default_factory=list)
    cancelled: bool = False
    form: Form | None = None
    """The form of the last attempt."""


def ask_structured(
    model: Model, *, system: str, user: str, schema: Mapping[str, Any], parse: Callable[[Any], T | None],
    max_tokens: int, retries: int = 0, cancel: Flag | None = None, forms: Forms | None = None,
    read_text: Callable[[str], T | None] | None = None,
) -> Structured[T]:
    """Up to `1 + retries` answers under `schema`, each in the current of `forms` (by
    default the model's declared forms, then text); `parse` turns the decoded JSON into a
    value or None (rejected). A reply in the text form that holds no JSON goes to
    `read_text`, which reads the value from prose. A refused form does not use up an
    attempt: the same attempt is asked again in the next form."""
    forms = forms if forms is not None else Forms(model)
    out: Structured[T] = Structured()
    problem = ""
    for attempt in range(retries + 1):
        prompt = Prompt(system, user + (RETRY_HINT.format(problem=problem) if problem else ""))
        text, cancelled = _ask(model, forms, out, cancel, lambda form: Request(
            prompt=prompt, max_tokens=max_tokens, temperature=0.0 if attempt == 0 else 0.4, seed=attempt or None,
            response_schema=None if form == "text" else schema, response_form="json_schema" if form == "text" else form,
        ))
        out.attempts += 1
        out.replies.append(text)
        if cancelled:
            out.cancelled = True
            return out
        data = decode_json(text)
        if data is None and out.form == "text" and read_text is not None:
            value = read_text(text)
        elif data is None:
            problem = "it was not valid JSON"
            continue
        else:
            value = parse(data)
        if value is not None:
            out.value = value
            return out
        problem = "it did not follow the schema"
    return out


def _ask(model: Model, forms: Forms, out: Structured[T], cancel: Flag | None,
         request: Callable[[Form], Request]) -> tuple[str, bool]:
    """The reply to `request(form)` in the first form the server does not refuse."""
    while True:
        form = forms.current
        out.form = form
        try:
            return collect(model, request(form), out.usage, cancel)
        except FormRefused:
            if form == "text":
                raise
            forms.refuse(form)


def collect(model: Model, request: Request, usage: Usage, cancel: Flag | None) -> tuple[str, bool]:
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
