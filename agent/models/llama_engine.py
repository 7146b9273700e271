"""A loaded llama.cpp model shared by every `LlamaModel` with the same file and options,
and the token bookkeeping that lets a continuation reuse the KV cache.

The KV cache holds exactly `llama.input_ids[:llama.n_tokens]`. Before each request the
prompt is tokenized so that it shares as long a prefix with those tokens as possible:
the template part is tokenized as a whole, and the assistant's text reuses the tokens
already evaluated for it (the model's own generated tokens) as far as their bytes still
match, tokenizing only the new remainder. The cache is then cut back to the common
prefix, so only the new tokens are evaluated.

Prompts that take turns (a planner's short requests between the tasks of an objective,
each task under the same long tool prompt) would overwrite each other's cache. So a
cache about to lose at least `WORTH` tokens is saved first (`llama_states`), and a
request whose prompt shares at least `WORTH` more tokens with a saved state than with
the live cache restores that state and continues from it. Models whose cache cannot be
cut back after a restore keep only the live cache: recurrent ones, and those with
sliding-window attention (Gemma 3), of whose window layers llama.cpp saves only the
last window.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from agent.errors import ConfigError, UserError
from agent.models.llama_cpu import plain_buffers
from agent.models.llama_sampling import Vocab
from agent.models.llama_states import (
    SavedState, StateCache, StateStats, Tokens, as_tokens, capture, common_prefix, restore,
)

THREADS_ENV = "INTERLEAF_THREADS"
STATE_BYTES = 128 * 2**20
"""Default budget of saved KV states per loaded model."""
WORTH = 16
"""Tokens of evaluation a state must spare to be saved or restored."""


class ModelBusy(UserError):
    """A second stream was started on a model while this thread still holds one open."""


@dataclass(frozen=True)
class EngineOptions:
    n_ctx: int = 4096
    n_threads: int | None = None
    n_batch: int = 512
    state_bytes: int = STATE_BYTES
    """Bytes of saved KV states kept besides the live cache (0: none)."""

    def threads(self) -> int:
        """`n_threads`, else `INTERLEAF_THREADS`, else half the usable cores (at least
        one): llama.cpp's threads wait for each other at every step, so sharing cores
        with other busy processes slows it down far more than using fewer threads."""
        if self.n_threads is not None:
            return self.n_threads
        configured = os.environ.get(THREADS_ENV, "").strip()
        if configured:
            try:
                return max(1, int(configured))
            except ValueError:
                raise ConfigError(f"{THREADS_ENV} must be a whole number, not {configured!r}") from None
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:
            cores = os.cpu_count() or 1
        return max(1, cores // 2)


class Engine:
    """One `llama_cpp.Llama` with a lock: one request at a time."""

    def __init__(self, path: Path, options: EngineOptions) -> None:
        from llama_cpp import Llama
        from llama_cpp._utils import suppress_stdout_stderr

        plain_buffers()

        threads = options.threads()
        self.path = path
        self.options = options
        with suppress_stdout_stderr(disable=False):  # llama.cpp logs some notes even when not verbose
            self.llama: Any = Llama(
                model_path=str(path),
                n_ctx=options.n_ctx,
                n_batch=options.n_batch,
                n_ubatch=options.n_batch,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        self.vocab = Vocab(self.llama)
        self.metadata: dict[str, str] = dict(self.llama.metadata)
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._heads: OrderedDict[str, list[int]] = OrderedDict()
        self._recurrent = bool(getattr(self.llama, "_is_recurrent", False) or getattr(self.llama, "_is_hybrid", False))
        windowed = int(llama_cpp.llama_model_n_swa(self.llama.model)) > 0
        self.states = StateCache(0 if self._recurrent or windowed else options.state_bytes)
        self.unevaluated: tuple[int, int] | None = None
        """(position, token) of the token generated last: sampled, yielded, and not
        evaluated unless generation went on past it."""
        self.space_prefix = b"".join(self.vocab.piece(t) for t in self._tokenize(b"a")) != b"a"

    @property
    def n_ctx(self) -> int:
        return min(int(self.llama.n_ctx()), int(self.llama.input_ids.shape[0]))

    @contextmanager
    def session(self) -> Iterator[None]:
        me = threading.get_ident()
        if self._owner == me:
            raise ModelBusy(
                "a stream from this model is still open in this thread; "
                "exhaust or close() it before starting another"
            )
        with self._lock:
            self._owner = me
            try:
                yield
            finally:
                self._owner = None

    def _tokenize(self, data: bytes) -> list[int]:
        return list(self.llama.tokenize(data, add_bos=False, special=False))

    def head_tokens(self, head: str) -> list[int]:
        """Tokens of the templated conversation (special tokens parsed), remembered."""
        tokens = self._heads.get(head)
        if tokens is None:
            bos = self.vocab.bos_text
            add_bos = not (bos and head.startswith(bos))
            tokens = list(self.llama.tokenize(head.encode("utf-8"), add_bos=add_bos, special=True))
            self._heads[head] = tokens
            if len(self._heads) > 16:
                self._heads.popitem(last=False)
        else:
            self._heads.move_to_end(head)
        return tokens

    def prompt_tokens(self, head: str, assistant: str) -> list[int]:
        """The prompt's tokens, reusing the evaluated tokens of the assistant's text."""
        head_tokens = self.head_tokens(head)
        data = assistant.encode("utf-8")
        if not data:
            return list(head_tokens)
        if self.space_prefix:
            return head_tokens + self._tokenize(data)
        kept, at = self._evaluated_assistant(head_tokens, data)
        rest = self._tokenize(data[at:]) if at < len(data) else []
        return head_tokens + kept + rest

    def _evaluated_assistant(self, head: list[int], data: bytes) -> tuple[list[int], int]:
        """The longest run of evaluated tokens (live or saved) after `head` that spells
        the start of `data`, and how many bytes of it they cover."""
        llama = self.llama
        best: tuple[list[int], int] = ([], 0)
        for held in (llama.input_ids[: int(llama.n_tokens)], *(s.tokens for s in self.states.states())):
            found = self._spelled(held, head, data)
            if found[1] > best[1]:
                best = found
        return best

    def _spelled(self, held: Tokens, head: list[int], data: bytes) -> tuple[list[int], int]:
        h = len(head)
        if len(held) <= h or not np.array_equal(held[:h], head):
            return [], 0
        kept: list[int] = []
        at = 0
        piece = self.vocab.piece
        for token in held[h:].tolist():
            text = piece(token)
            if not text or not data.startswith(text, at):
                break
            kept.append(token)
            at += len(text)
        while kept and at < len(data) and (data[at] & 0xC0) == 0x80:
            at -= len(piece(kept.pop()))
        return kept, at

    def take_unevaluated(self) -> tuple[int, int] | None:
        """(position, token) of the token generated last, if the cache ends right before
        it (it was sampled but never evaluated); forgotten once taken."""
        unevaluated, self.unevaluated = self.unevaluated, None
        if unevaluated is None or unevaluated[0] != int(self.llama.n_tokens):
            return None
        return unevaluated

    def rewind(self, tokens: list[int]) -> int:
        """Make the cache hold the longest prefix of `tokens` it can, from the live cache
        or a saved state, keeping at least one token to evaluate; return how many tokens
        are reused (none of them is evaluated again)."""
        llama = self.llama
        wanted = as_tokens(tokens)
        last = len(tokens) - 1
        live = int(llama.n_tokens)
        prefix = min(common_prefix(llama.input_ids[:live], wanted), last)
        saved, shared = self.states.best(wanted)
        shared = min(shared, last)
        if saved is not None and shared >= prefix + WORTH:
            self.states.used(saved)  # kept ahead of the live state saved next, if both fit
            self._save_live()
            prefix = self._restore(saved, shared, prefix)
        elif live - prefix >= WORTH:
            self._save_live()
        if prefix < llama.n_tokens and self._recurrent:
            llama.reset()
            prefix = 0
        llama.n_tokens = prefix
        return prefix

    def _save_live(self) -> None:
        llama, states = self.llama, self.states
        held = as_tokens(llama.input_ids[: int(llama.n_tokens)])
        if not states.capacity or len(held) < WORTH or states.covers(held):
            return
        llama._ctx.kv_cache_seq_rm(-1, len(held), -1)  # the cache holds exactly `held`
        state = capture(llama.ctx, held)
        if state is None:
            states.stats.failed += 1
        else:
            states.add(state)

    def _restore(self, state: SavedState, shared: int, live: int) -> int:
        """Load `state` as the live cache; return the prefix then reused (`shared`, or 0
        if llama.cpp refused). `live`: what the live cache would have reused."""
        llama, states = self.llama, self.states
        if not restore(llama.ctx, state):
            states.stats.failed += 1
            states.discard(state)
            llama.n_tokens = 0
            return 0
        n = len(state.tokens)
        llama.input_ids[:n] = state.tokens
        llama.n_tokens = n
        states.stats.restored += 1
        states.stats.spared += shared - live
        return shared

    def reset(self) -> None:
        """Forget the live cache and every saved state, and zero the state counters: the
        next request evaluates its whole prompt."""
        self.llama.reset()
        self.states.clear()
        self.states.stats = StateStats()


_ENGINES: dict[tuple[str, EngineOptions], Engine] = {}
_ENGINES_LOCK = threading.Lock()


def load_engine(path: Path, options: EngineOptions) -> Engine:
    """The engine for this file and these options, loaded once per process."""
    key = (str(path.resolve()), options)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = Engine(path, options)
        return engine


def unload_engines() -> None:
    """Forget every loaded engine (their memory is freed once no model refers to them)."""
    with _ENGINES_LOCK:
        _ENGINES.clear()
