"""What the detector reports: text, a call opened, a call closed, a malformed call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.frozen import compact_init
from agent.markup import ParsedCall


@compact_init
@dataclass(frozen=True)
class Text:
    text: str


@compact_init
@dataclass(frozen=True)
class Opened:
    name: str
    text: str
    """The markup up to and including the opening parenthesis, e.g. `[Calculator(`."""


@compact_init
@dataclass(frozen=True)
class Closed:
    call: ParsedCall
    text: str
    """The markup as the model wrote it, up to and including the close marker or arrow."""


@compact_init
@dataclass(frozen=True)
class Malformed:
    name: str
    text: str
    reason: str


DetectorEvent = Text | Opened | Closed | Malformed
Events = Sequence[DetectorEvent]
"""What a feed gives: a list of events, or `NOTHING`."""
NOTHING: tuple[DetectorEvent, ...] = ()
"""No events: one shared value, which cannot be changed."""


def merge(events: list[DetectorEvent]) -> list[DetectorEvent]:
    """Adjacent `Text` events joined into one, empty ones dropped: `events` itself when
    there are none."""
    after_text = False
    for e in events:
        if isinstance(e, Text):
            if after_text or not e.text:
                break
            after_text = True
        else:
            after_text = False
    else:
        return events
    out: list[DetectorEvent] = []
    texts: list[str] = []
    for e in events:
        if isinstance(e, Text):
            texts.append(e.text)
            continue
        if texts:
            _add_text(out, texts)
        out.append(e)
    _add_text(out, texts)
    return out


def _add_text(out: list[DetectorEvent], texts: list[str]) -> None:
    text = "".join(texts)
    texts.clear()
    if text:
        out.append(Text(text))
