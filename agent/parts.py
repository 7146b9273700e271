"""A run's record as typed parts: text the model wrote, a call with its outcome, a value
the loop spliced. The transcript is their rendering, in order; everything downstream
(refine, export, scoring, the CLI view, the native chat dialect) reads the parts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.frozen import quick_init
from agent.markup import DEFAULT_MARKUP, Markup


@quick_init
@dataclass(frozen=True)
class CallRecord:
    index: int
    name: str
    raw: str
    """The arguments as the model wrote them."""
    text: str
    """The completed markup spliced into the transcript."""
    arguments: Mapping[str, Any] | None = None
    result: str | None = None
    error: str | None = None
    seconds: float = 0.0
    content: tuple[Mapping[str, object], ...] = ()
    """Content beyond text the tool returned (images, audio, resources), as it came;
    the spliced `result` describes it."""

    @property
    def ok(self) -> bool:
        return self.error is None


@quick_init
@dataclass(frozen=True)
class Spliced:
    """A value the loop wrote into the text itself: the computed value of an equation
    the model wrote (`check_arithmetic`)."""

    text: str


Part = str | CallRecord | Spliced
"""One piece of a run's record: text the model wrote, a call with its outcome, or a
value the loop spliced. The transcript is their rendering, in order."""


def rendered(parts: Iterable[Part]) -> str:
    """The transcript: the parts as the model reads them."""
    return "".join(p if isinstance(p, str) else p.text for p in parts)


def head(parts: Iterable[Part], length: int) -> tuple[Part, ...]:
    """The parts that render as at most the first `length` characters of their
    rendering: text is cut anywhere, a call or a spliced value only whole."""
    kept: list[Part] = []
    room = length
    for part in parts:
        size = len(part if isinstance(part, str) else part.text)
        if size <= room:
            kept.append(part)
            room -= size
            continue
        if isinstance(part, str) and room > 0:
            kept.append(part[:room])
        break
    return tuple(kept)


def plain_text(parts: Iterable[Part]) -> str:
    """What the parts say with each call replaced by its result (a failed call by
    nothing): the text a reader of the answer sees."""
    return "".join(p if isinstance(p, str) else p.text if isinstance(p, Spliced) else p.result or "" for p in parts)


def calls_in(parts: Iterable[Part]) -> list[CallRecord]:
    return [p for p in parts if isinstance(p, CallRecord)]


def clean(parts: Sequence[Part]) -> bool:
    """Parts worth learning from: some text, and every call in them came back with a
    result."""
    return bool(plain_text(parts).strip()) and all(c.ok and c.result is not None for c in calls_in(parts))


def parts_of(text: str, markup: Markup = DEFAULT_MARKUP) -> tuple[Part, ...]:
    """The parts of a transcript kept only as text (runs stored before parts were)."""
    from agent.transcript import segments  # the detector loads only where stored text is read

    parts: list[Part] = []
    for segment in segments(text, markup):
        if isinstance(segment, str):
            parts.append(segment)
        else:
            n = sum(isinstance(p, CallRecord) for p in parts)
            parts.append(CallRecord(n, segment.name, segment.raw, segment.render(markup), result=segment.result,
                                    error=segment.error))
    return tuple(parts)


def to_data(parts: Iterable[Part]) -> list[Any]:
    """The parts as JSON-ready data: text as a string, a call or a spliced value as an
    object tagged by `kind`."""
    out: list[Any] = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        elif isinstance(p, Spliced):
            out.append({"kind": "spliced", "text": p.text})
        else:
            call = {"kind": "call", "index": p.index, "name": p.name, "raw": p.raw, "text": p.text,
                    "arguments": _jsonable(p.arguments), "result": p.result, "error": p.error,
                    "seconds": p.seconds}
            out.append({**call, "content": [dict(c) for c in p.content]} if p.content else call)
    return out


def from_data(data: Iterable[Any]) -> tuple[Part, ...]:
    """The parts `to_data` wrote."""
    parts: list[Part] = []
    for item in data:
        if isinstance(item, str):
            parts.append(item)
        elif item.get("kind") == "spliced":
            parts.append(Spliced(item["text"]))
        else:
            parts.append(CallRecord(int(item["index"]), item["name"], item["raw"], item["text"],
                                    arguments=item.get("arguments"), result=item.get("result"),
                                    error=item.get("error"), seconds=float(item.get("seconds", 0.0)),
                                    content=tuple(item.get("content") or ())))
    return tuple(parts)


def _jsonable(arguments: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if arguments is None:
        return None
    return {str(k): v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else repr(v)
            for k, v in arguments.items()}
