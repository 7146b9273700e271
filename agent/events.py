"""What a run reports: typed events, call records and the final result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.markup import DEFAULT_MARKUP, Markup, ParsedCall
from agent.models.base import Usage
from agent.reasons import StopReason as StopReason  # re-exported: events name why a run ended


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


@dataclass(frozen=True)
class Spliced:
    """A value the loop wrote into the text itself: the computed value of an equation
    the model wrote (`check_arithmetic`)."""

    text: str


Part = str | CallRecord | Spliced
"""One piece of a run's record: text the model wrote, a call with its outcome, or a
value the loop spliced. The transcript is their rendering, in order."""


def plain_text(parts: tuple[Part, ...]) -> str:
    """What the parts say with each call replaced by its result (a failed call by
    nothing): the text a reader of the answer sees."""
    return "".join(p if isinstance(p, str) else p.text if isinstance(p, Spliced) else p.result or "" for p in parts)


@dataclass(frozen=True)
class RunResult:
    text: str
    """The model's text with every call completed by its result or error (the
    rendering of `parts`)."""
    calls: tuple[CallRecord, ...]
    usage: Usage
    stop_reason: StopReason
    detail: str
    """The stop reason in words."""
    seconds: float
    prompt_text: str = field(default="", repr=False)
    parts: tuple[Part, ...] = ()
    """The run's record as typed parts; `text` and `calls` are views of it. A result
    made from text alone (a stored run) reads its parts from the text."""

    def __post_init__(self) -> None:
        if not self.parts and self.text:
            object.__setattr__(self, "parts", parts_of(self.text))


def parts_of(text: str, markup: Markup = DEFAULT_MARKUP) -> tuple[Part, ...]:
    """The parts of a stored transcript (for runs kept only as text)."""
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


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class CallStarted:
    index: int
    call: ParsedCall


@dataclass(frozen=True)
class CallFinished:
    record: CallRecord


@dataclass(frozen=True)
class RunFinished:
    result: RunResult


Event = TextDelta | CallStarted | CallFinished | RunFinished
"""The transcript is the `TextDelta` texts and each `CallFinished.record.text`, in order."""
