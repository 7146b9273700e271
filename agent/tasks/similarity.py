"""Near-duplicate detection for task texts: normalised text, then the larger of a
character-level ratio and a word-set overlap."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from difflib import SequenceMatcher

DUPLICATE_AT = 0.8

NUMBERING = re.compile(r"^\s*(?:[-*•]|\(?\d+[.)]|task\s*\d+\s*[:.-])\s*", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")
_STOPWORDS = frozenset("a an and the of to for in on with at by from my our your".split())


def normalise(text: str) -> str:
    """Lower case, no accents, numbering or punctuation, single spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = NUMBERING.sub("", text.strip())
    return " ".join(_WORD.findall(text.casefold()))


def similarity(a: str, b: str) -> float:
    """0 (nothing shared) to 1 (the same text after normalising); texts that name
    different numbers are never similar ("day 1" and "day 2")."""
    na, nb = normalise(a), normalise(b)
    if not na or not nb:
        return 1.0 if na == nb else 0.0
    if na == nb:
        return 1.0
    if _numbers(na) != _numbers(nb):
        return 0.0
    ratio = SequenceMatcher(None, na, nb, autojunk=False).ratio()
    wa, wb = _content_words(na), _content_words(nb)
    overlap = len(wa & wb) / len(wa | wb)
    return max(ratio, overlap)


def _numbers(text: str) -> set[str]:
    return {w for w in text.split() if w.isdigit()}


def _content_words(text: str) -> set[str]:
    words = text.split()
    kept = [w for w in words if w not in _STOPWORDS] or words
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in kept}


def is_duplicate(text: str, others: Iterable[str], *, threshold: float = DUPLICATE_AT) -> bool:
    return any(similarity(text, other) >= threshold for other in others)


def dedupe(proposals: Iterable[str], existing: Iterable[str], *,
           threshold: float = DUPLICATE_AT) -> tuple[list[str], list[str]]:
    """(kept, dropped): proposals that are not near-duplicates of `existing` or of an
    earlier kept proposal, in order; empty ones are dropped."""
    seen = list(existing)
    kept: list[str] = []
    dropped: list[str] = []
    for text in proposals:
        clean = " ".join(text.split())
        if not normalise(clean) or is_duplicate(clean, seen, threshold=threshold):
            dropped.append(clean)
            continue
        kept.append(clean)
        seen.append(clean)
    return kept, dropped
