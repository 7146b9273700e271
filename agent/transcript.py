"""Read completed calls back out of a transcript: `[Name(args) → result]`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from agent.detector import Closed, Detector, Malformed, Text
from agent.markup import DEFAULT_MARKUP, ERROR_PREFIX, Markup

_FEED = 512


@dataclass(frozen=True)
class CompletedCall:
    name: str
    raw: str
    result: str | None
    """None when the call failed or stands without a result (`[Name(args)]`)."""
    error: str | None = None
    """What went wrong, when the call failed (`[Name(args) → Error: …]`)."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.result is not None

    def render(self, markup: Markup = DEFAULT_MARKUP) -> str:
        return markup.render(self.name, self.raw, result=self.result, error=self.error)


Segment = str | CompletedCall


def segments(text: str, markup: Markup = DEFAULT_MARKUP) -> list[Segment]:
    """Split `text` into plain text and calls; a result runs up to the close marker that
    balances the call's open marker."""
    out: list[Segment] = []
    pos = 0
    while pos < len(text):
        found = _next_call(text, pos, markup)
        if found is None:
            _add_text(out, text[pos:])
            break
        before, closed, after_call = found
        _add_text(out, before)
        pos = after_call
        if any(closed.text.rstrip().endswith(a.strip()) for a in markup.arrows):
            body, pos = _read_result(text, pos, markup)
            out.append(_completed(closed.call.name, closed.call.raw, body, markup))
        else:
            out.append(CompletedCall(closed.call.name, closed.call.raw, None))
    return out


def _completed(name: str, raw: str, body: str, markup: Markup) -> CompletedCall:
    """A call from the escaped text after its arrow: a result, or an error."""
    if body.startswith(ERROR_PREFIX):
        return CompletedCall(name, raw, None, markup.unescape(body[len(ERROR_PREFIX):].strip()))
    return CompletedCall(name, raw, markup.unescape(body.removeprefix("\\")))


def render(parts: list[Segment], markup: Markup = DEFAULT_MARKUP) -> str:
    return "".join(p if isinstance(p, str) else p.render(markup) for p in parts)


def calls(text: str, markup: Markup = DEFAULT_MARKUP) -> Iterator[CompletedCall]:
    return (s for s in segments(text, markup) if isinstance(s, CompletedCall))


def _add_text(out: list[Segment], text: str) -> None:
    if not text:
        return
    if out and isinstance(out[-1], str):
        out[-1] += text
    else:
        out.append(text)


def _next_call(text: str, pos: int, markup: Markup) -> tuple[str, Closed, int] | None:
    detector = Detector(markup)
    before = ""
    start = pos
    while start < len(text) or detector.holding:
        chunk = text[start : start + _FEED]
        start += len(chunk)
        events = detector.feed(chunk) if chunk else detector.finish()
        for event in events:
            if isinstance(event, Closed):
                return before, event, pos + len(before) + len(event.text)
            if isinstance(event, (Text, Malformed)):
                before += event.text
        if not chunk:
            break
    return None


def _read_result(text: str, pos: int, markup: Markup) -> tuple[str, int]:
    """The text after an arrow, up to its close marker (still escaped): escaped
    characters are part of it; unescaped markers nest (as in text written before
    results were escaped)."""
    open_, close = markup.open.strip(), markup.close.strip()
    depth = 0
    i = pos
    while i < len(text):
        if text.startswith("\\", i):
            i += 2
        elif text.startswith(close, i):
            if depth == 0:
                return text[pos:i].strip(), i + len(close)
            depth -= 1
            i += len(close)
        elif text.startswith(open_, i):
            depth += 1
            i += len(open_)
        else:
            i += 1
    return text[pos:].strip(), len(text)
