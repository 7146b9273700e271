"""Token-level helpers for the llama.cpp backend: token pieces, grammar checks, and the
Toolformer call trigger as a logits processor."""

from __future__ import annotations

import ctypes
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import llama_cpp
import numpy as np
import numpy.typing as npt

from agent.errors import ConfigError
from agent.models.base import CallTrigger


class InvalidGrammar(ConfigError):
    """A GBNF grammar llama.cpp cannot parse."""

    def __init__(self, grammar: str) -> None:
        self.grammar = grammar
        head = grammar if len(grammar) <= 200 else grammar[:200] + "…"
        super().__init__(f"invalid GBNF grammar (llama.cpp could not parse it): {head!r}")


def schema_grammar(schema: Mapping[str, Any]) -> str:
    """The GBNF grammar of a JSON schema (llama.cpp's converter), remembered."""
    try:
        key = json.dumps(schema)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"response_schema is not JSON: {error}") from error
    return _schema_grammar(key)


@lru_cache(maxsize=64)
def _schema_grammar(schema_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        return str(json_schema_to_gbnf(schema_json))
    except Exception as error:
        raise ConfigError(f"response_schema cannot be turned into a grammar: {error}") from error


class Vocab:
    """Byte pieces of a model's tokens, and the few vocabulary facts the backend needs."""

    def __init__(self, llama: Any) -> None:
        self._vocab = llama._model.vocab
        self.size: int = llama.n_vocab()
        self._pieces: dict[int, bytes] = {}
        self._all: list[bytes] | None = None
        self._buffer = ctypes.create_string_buffer(256)
        self._eog: dict[int, bool] = {}
        self._trigger_sets: dict[tuple[str, bool], npt.NDArray[np.intp]] = {}
        self.bos_text = self.text(int(llama_cpp.llama_vocab_bos(self._vocab)))
        self.eos_text = self.text(int(llama_cpp.llama_vocab_eos(self._vocab)))
        self._grammars: set[str] = set()

    def text(self, token: int) -> str:
        """A token's text as the vocabulary spells it (special tokens included)."""
        if token < 0:
            return ""
        return bytes(llama_cpp.llama_vocab_get_text(self._vocab, token)).decode("utf-8", "replace")

    def is_eog(self, token: int) -> bool:
        eog = self._eog.get(token)
        if eog is None:
            eog = self._eog[token] = bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))
        return eog

    def trigger_tokens(self, marker: str, first_token: int, *, disabled: bool) -> npt.NDArray[np.intp]:
        """Disabled: the tokens that could begin `marker`. Otherwise: the tokens that are
        the marker's first token, give or take surrounding whitespace."""
        key = (marker, disabled)
        found = self._trigger_sets.get(key)
        if found is None:
            pieces = self.all_pieces()
            if disabled:
                found = _tokens_that_open(pieces, marker.encode("utf-8"))
            else:
                first = pieces[first_token].strip()
                found = np.array(
                    [t for t, p in enumerate(pieces) if p and p.strip() == first], dtype=np.intp
                )
            self._trigger_sets[key] = found
        return found

    def piece(self, token: int) -> bytes:
        """The bytes a token stands for (special tokens render as nothing)."""
        cached = self._pieces.get(token)
        if cached is None:
            cached = self._render(token)
            self._pieces[token] = cached
        return cached

    def _render(self, token: int) -> bytes:
        size = len(self._buffer)
        n = llama_cpp.llama_token_to_piece(self._vocab, token, self._buffer, size, 0, False)
        if n < 0:
            bigger = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, bigger, -n, 0, False)
            return bigger.raw[:n]
        return self._buffer.raw[:n]

    def all_pieces(self) -> list[bytes]:
        if self._all is None:
            self._all = [self.piece(t) for t in range(self.size)]
        return self._all

    def check_grammar(self, grammar: str) -> None:
        """Raise `InvalidGrammar` unless llama.cpp compiles `grammar` (remembered)."""
        if grammar in self._grammars:
            return
        sampler = llama_cpp.llama_sampler_init_grammar(
            self._vocab, grammar.encode("utf-8"), b"root"
        )
        if not sampler:
            raise InvalidGrammar(grammar)
        llama_cpp.llama_sampler_free(sampler)
        self._grammars.add(grammar)


class TriggerProcessor:
    """Toolformer's top-k trigger as a llama-cpp-python logits processor.

    Forced (k > 0): whenever a token that starts the call marker (the marker's first token,
    with or without leading whitespace) is among the k most likely next tokens, it is
    made the most likely one. Forcing happens until the marker has appeared in the
    generated text, so at most one call is started per request; the framework ends the
    request once the call closes. Disabled: every token that could begin the marker gets
    probability 0, so no call can start.
    """

    def __init__(self, vocab: Vocab, trigger: CallTrigger, first_token: int) -> None:
        self.k = trigger.k
        self.disabled = trigger.disabled
        self.marker = trigger.text
        self.armed = True
        self._tail = ""
        self.tokens = vocab.trigger_tokens(trigger.text, first_token, disabled=trigger.disabled)

    def observe(self, text: str) -> None:
        """Follow the generated text; stop forcing once the marker appears."""
        if not self.armed or not text:
            return
        window = self._tail + text
        if self.marker in window:
            self.armed = False
        self._tail = window[-(len(self.marker) - 1) :] if len(self.marker) > 1 else ""

    def __call__(
        self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]
    ) -> npt.NDArray[np.single]:
        if self.disabled:
            scores[self.tokens] = -np.inf
            return scores
        if not self.armed or self.k <= 0 or self.tokens.size == 0:
            return scores
        k = min(self.k, scores.size)
        kth = np.partition(scores, scores.size - k)[scores.size - k]
        candidates = self.tokens[scores[self.tokens] >= kth]
        if candidates.size:
            best = candidates[int(np.argmax(scores[candidates]))]
            scores[best] = scores.max() + 100.0
        return scores


def _tokens_that_open(pieces: list[bytes], marker: bytes) -> npt.NDArray[np.intp]:
    """Tokens whose text contains the marker or ends with a start of it: without them
    the marker can never be written."""
    prefixes = [marker[:n] for n in range(1, len(marker))]
    found = [
        t
        for t, p in enumerate(pieces)
        if marker in p or any(p.endswith(prefix) for prefix in prefixes)
    ]
    return np.array(found, dtype=np.intp)
