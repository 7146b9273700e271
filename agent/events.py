"""What a run reports: typed events, call records and the final result."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.frozen import quick_init
from agent.markup import ParsedCall
from agent.models.base import Usage
from agent.parts import CallRecord as CallRecord, Part as Part, Spliced as Spliced  # re-exported
from agent.parts import parts_of as parts_of, plain_text as plain_text, rendered as rendered
from agent.reasons import StopReason as StopReason  # re-exported: events name why a run ended


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


@quick_init
@dataclass(frozen=True)
class TextDelta:
    text: str


@quick_init
@dataclass(frozen=True)
class CallStarted:
    index: int
    call: ParsedCall


@quick_init
@dataclass(frozen=True)
class CallFinished:
    record: CallRecord


@quick_init
@dataclass(frozen=True)
class RunFinished:
    result: RunResult


Event = TextDelta | CallStarted | CallFinished | RunFinished
"""The transcript is the `TextDelta` texts and each `CallFinished.record.text`, in order."""
