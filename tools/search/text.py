"""Plain text from documents, passages to index, and compact lines to splice inline.

HTML is read with the standard library's `html.parser` (scripts and styles dropped),
Markdown has its markup stripped, plain text is taken as is. Texts are split into
passages of bounded size on paragraph, then sentence, then word boundaries.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePath

PLAIN_SUFFIXES = frozenset({".txt", ".text", ".rst"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".mkd"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
SUPPORTED_SUFFIXES = PLAIN_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES

PASSAGE_CHARS = 800
"""Passages are at most this long."""
MIN_PASSAGE_CHARS = 200
"""Shorter paragraphs (headings, one-liners) are joined to their neighbours."""

ELLIPSIS = "…"
SEPARATOR = " | "


@dataclass(frozen=True)
class Document:
    title: str
    text: str
    """Paragraphs separated by blank lines."""


def is_supported(path: PurePath) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def parse_document(data: bytes, *, suffix: str, fallback_title: str) -> Document | None:
    """The text of a file's contents by its suffix, or None if it looks binary."""
    if b"\x00" in data[:8192]:
        return None
    raw = data.decode("utf-8-sig", errors="replace")
    kind = suffix.lower()
    if kind in HTML_SUFFIXES:
        title, text = html_to_text(raw)
    elif kind in MARKDOWN_SUFFIXES:
        title, text = markdown_to_text(raw)
    else:
        title, text = "", raw
    text = unicodedata.normalize("NFKC", text)
    title = compact(unicodedata.normalize("NFKC", title), 120) or fallback_title
    return Document(title=title, text=text)


# ---------------------------------------------------------------- HTML

_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object"})
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
    "table", "tbody", "thead", "tfoot", "tr", "ul",
})
_CELL_TAGS = frozenset({"td", "th"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._skip_depth = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open_or_close(tag, opening=True)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        self._open_or_close(tag, opening=False)

    def _open_or_close(self, tag: str, *, opening: bool) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth + (1 if opening else -1))
        elif tag == "title":
            self._in_title = opening
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag in _CELL_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._in_title:
            self.title_parts.append(data)
        else:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """The title and the visible text of an HTML page, paragraphs on blank lines."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    title = " ".join("".join(extractor.title_parts).split())
    return title, "\n\n".join(paragraphs("".join(extractor.parts)))


# ---------------------------------------------------------------- Markdown

_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n(?:---|\.\.\.)\s*\n", re.DOTALL)
_FENCE = re.compile(r"^\s*(```|~~~)")
_ATX_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT_RULE = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+.*$")
_LINE_PREFIX = re.compile(r"^\s{0,3}(?:>\s?)+|^\s*(?:[-*+]|\d+[.)])\s+")
_INLINE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),
    (re.compile(r"`+([^`]+)`+"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
)


def markdown_to_text(markdown: str) -> tuple[str, str]:
    """The first level-1 heading and the text of a Markdown document without its markup."""
    lines = _FRONT_MATTER.sub("", markdown.replace("\r\n", "\n")).split("\n")
    out: list[str] = []
    title = ""
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
            out.append("")
            continue
        if in_fence:
            out.append(line)
            continue
        heading = _ATX_HEADING.match(line)
        if heading:
            text = _strip_inline(heading.group(2))
            if not title and len(heading.group(1)) == 1:
                title = text
            out.extend(["", text, ""])
        elif _RULE.match(line) or _TABLE_RULE.match(line) or _LINK_DEFINITION.match(line):
            out.append("")
        elif _SETEXT_RULE.match(line) and out and out[-1].strip():
            if not title and line.strip().startswith("="):
                title = out[-1].strip()
            out.append("")
        else:
            out.append(_strip_inline(_LINE_PREFIX.sub("", line).replace("|", " ")))
    return title, "\n\n".join(paragraphs("\n".join(out)))


def _strip_inline(text: str) -> str:
    for pattern, replacement in _INLINE_RULES:
        text = pattern.sub(replacement, text)
    return text


# ---------------------------------------------------------------- passages

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


def paragraphs(text: str) -> list[str]:
    """The non-empty paragraphs of `text`, each on one line."""
    found = (" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(text))
    return [p for p in found if p]


def passages(
    text: str, *, max_chars: int = PASSAGE_CHARS, min_chars: int = MIN_PASSAGE_CHARS
) -> list[str]:
    """`text` cut into passages of at most `max_chars`.

    A passage ends at a paragraph break once it has `min_chars`, so headings and short
    lines join the text that follows them; long paragraphs are cut between sentences.
    """
    out: list[str] = []
    current = ""
    for paragraph in paragraphs(text):
        for position, unit in enumerate(_units(paragraph, max_chars)):
            starts_paragraph = position == 0
            if current and (
                (starts_paragraph and len(current) >= min_chars)
                or len(current) + 1 + len(unit) > max_chars
            ):
                out.append(current)
                current = ""
            joiner = "\n" if starts_paragraph else " "
            current = f"{current}{joiner}{unit}" if current else unit
    if current:
        out.append(current)
    return out


def _units(paragraph: str, max_chars: int) -> list[str]:
    """A paragraph whole if it fits, else its sentences (and words, and slices of words)."""
    if len(paragraph) <= max_chars:
        return [paragraph]
    units: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        if len(sentence) <= max_chars:
            units.append(sentence)
            continue
        for word in sentence.split(" "):
            units.extend(word[i : i + max_chars] for i in range(0, len(word), max_chars))
    return units


# ---------------------------------------------------------------- inline results


def compact(text: str, limit: int) -> str:
    """`text` on one line, without square brackets, cut to `limit` characters at a word."""
    flat = " ".join(text.replace("[", "(").replace("]", ")").split())
    if len(flat) <= limit:
        return flat
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + ELLIPSIS


def join_lines(lines: Iterable[str], *, limit: int) -> str:
    """Result lines joined by " | ", as many as fit in `limit` characters (at least one)."""
    out = ""
    for line in lines:
        candidate = f"{out}{SEPARATOR}{line}" if out else line
        if len(candidate) <= limit:
            out = candidate
        elif not out:
            return compact(line, limit)
        else:
            break
    return out
