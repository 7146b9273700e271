"""What a run reports: typed events, call records and the final result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from agent.markup import ParsedCall
from agent.models.base import Usage


class StopReason(str, Enum):
    END = "end"
    """The model ended its text."""
    STOP_SEQUENCE = "stop_sequence"
    MAX_CALLS = "max_calls"
    MAX_TOKENS = "max_tokens"
    TIMEOUT = "timeout"
    NO_PROGRESS = "no_progress"
    """The same call with the same arguments gave the same result too many times."""
    CANCELLED = "cancelled"
    CONTEXT_FULL = "context_full"
    MODEL_ERROR = "model_error"


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

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class RunResult:
    text: str
    """The model's text with every call completed by its result or error."""
    calls: tuple[CallRecord, ...]
    usage: Usage
    stop_reason: StopReason
    detail: str
    """The stop reason in words."""
    seconds: float
    prompt_text: str = field(default="", repr=False)


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
