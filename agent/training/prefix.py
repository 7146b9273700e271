"""The sampler's and the filter's llama.cpp model: evaluated by prefix, with logits only
where they are read.

Sampling calls evaluates thousands of closely related token sequences: the prompt and a
text up to each candidate position, the candidate calls there, and the filter's contexts
with and without each call. `PrefixModel` keeps the tokens last evaluated in its context
and evaluates only what lies past the longest prefix in common, asking for logits only at
the positions that are read (the output layer over SmolLM2's 49,152 tokens is about a fifth
of its work per token). `propose` decodes a call under a grammar after a head, leaving the
head in place for the next candidate.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any

import llama_cpp
import numpy as np
import numpy.typing as npt

from llama_cpp._logger import set_verbose

from agent.models.llama_cpu import plain_buffers

BATCH = 256
"""Tokens per llama.cpp decode of a prompt."""


@dataclass(frozen=True)
class Draw:
    """How one candidate is decoded: greedily (temperature 0) or sampled with this seed,
    with the top-k, top-p and min-p cuts of llama-cpp-python's `generate`."""

    temperature: float = 0.0
    seed: int = 0
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05


def tokenize(vocab: Any, text: str, *, bos: bool) -> list[int]:
    """`text` as tokens of `vocab` (special tokens written in it are plain text)."""
    data = text.encode()
    size = len(data) + 8
    tokens = (llama_cpp.llama_token * size)()
    n = llama_cpp.llama_tokenize(vocab, data, len(data), tokens, size, bos, False)
    if n < 0:
        raise RuntimeError("tokenization overflow")
    return list(tokens[:n])


class PrefixModel:
    """A llama.cpp model and a context holding the last evaluated tokens."""

    def __init__(self, path: str | PathLike[str], *, n_ctx: int = 1280, threads: int = 1) -> None:
        """`n_ctx`: room for the calculator's sampling prompt and twice a generated text
        (`tests/test_training_annotating.py`)."""
        self.n_ctx = n_ctx
        plain_buffers()
        set_verbose(False)  # llama.cpp's load notes stay off the caller's terminal
        self.model = llama_cpp.llama_model_load_from_file(str(path).encode(), llama_cpp.llama_model_default_params())
        if not self.model:
            raise RuntimeError(f"cannot load {path}")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self.vocab))
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = BATCH
        params.n_outputs_max_per_seq = 0  # every position may have logits
        # flash attention (llama.cpp's default here) made a one-token step 13.9 ms against 10.8 without
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.n_threads = params.n_threads_batch = threads
        self.ctx = llama_cpp.llama_init_from_model(self.model, params)
        if not self.ctx:
            llama_cpp.llama_model_free(self.model)
            raise RuntimeError("cannot create a llama.cpp context")
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(BATCH, 0, 1)
        self.tokens: list[int] = []
        """What the context holds."""
        self.rows: dict[int, npt.NDArray[np.float32]] = {}
        """Logits after each position of `tokens` that has been read."""
        self.evaluated = 0
        """Tokens decoded in all (statistics)."""

    def tokenize(self, text: str, *, bos: bool = False) -> list[int]:
        return tokenize(self.vocab, text, bos=bos)

    def detokenize(self, tokens: Sequence[int]) -> str:
        size = 16 * len(tokens) + 16
        out = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_detokenize(self.vocab, (llama_cpp.llama_token * len(tokens))(*tokens), len(tokens),
                                       out, size, False, False)
        return out.raw[: max(0, n)].decode("utf-8", errors="replace")

    def eval(self, tokens: Sequence[int], *, logits_from: int | None = None) -> None:
        """Make `tokens` the context, with logits after every position from `logits_from`
        (default: the last); only the tokens past the longest prefix held, or past the
        first position whose logits were not kept, are decoded."""
        first = len(tokens) - 1 if logits_from is None else max(0, logits_from)
        start = 0
        for held, token in zip(self.tokens, tokens):
            if held != token:
                break
            start += 1
        start = next((p for p in range(first, start) if p not in self.rows), start)
        self._truncate(start)
        self._decode(list(tokens[start:]), start, first)
        self.tokens = list(tokens)

    def logits_at(self, index: int) -> npt.NDArray[np.float32]:
        """The logits of the next token after position `index` of `tokens`."""
        return self.rows[index]

    def propose(self, head: Sequence[int], draw: Draw, *, grammar: str, close: str, max_tokens: int) -> str | None:
        """A call's arguments after `head`, decoded under `grammar` until `close` is
        written (the text before the last `)`), or None if it did not close within
        `max_tokens` tokens. The decoded tokens stay in the context after `head`, where
        the next evaluation drops them."""
        self.eval(head[:-1], logits_from=len(head) - 1)  # no logits yet: the step below gives them
        picker = GrammarPicker(self.vocab, self.n_vocab, grammar, draw)
        pieces: list[int] = []
        try:
            token = head[-1]
            while len(pieces) < max_tokens:
                self._append(token)
                token = picker.pick(self.ctx)
                if llama_cpp.llama_vocab_is_eog(self.vocab, token):
                    return None
                pieces.append(token)
                text = self.detokenize(pieces)
                if close in text:
                    return text.rpartition(")")[0].strip() or None
            return None
        finally:
            picker.close()

    def close(self) -> None:
        if self.ctx:
            llama_cpp.llama_batch_free(self.batch)
            llama_cpp.llama_free(self.ctx)
            llama_cpp.llama_model_free(self.model)
            self.ctx = self.model = None

    def _truncate(self, start: int) -> None:
        llama_cpp.llama_memory_seq_rm(self.memory, 0, start, -1)
        self.tokens = self.tokens[:start]
        self.rows = {p: row for p, row in self.rows.items() if p < start}

    def _decode(self, tokens: list[int], start: int, first: int) -> None:
        """Decode `tokens` at positions from `start`, keeping the logits of positions
        from `first`."""
        for offset in range(0, len(tokens), BATCH):
            chunk = tokens[offset : offset + BATCH]
            base = start + offset
            self._fill([(token, base + k, base + k >= first) for k, token in enumerate(chunk)])
            for k in range(max(0, first - base), len(chunk)):
                self.rows[base + k] = self._logits(k)

    def _append(self, token: int) -> None:
        """Decode one token at the end; its logits are read from the context."""
        self._fill([(token, len(self.tokens), True)])
        self.tokens.append(token)

    def _fill(self, entries: list[tuple[int, int, bool]]) -> None:
        """Decode one batch of (token, position, logits wanted)."""
        batch = self.batch
        for k, (token, position, wanted) in enumerate(entries):
            batch.token[k] = token
            batch.pos[k] = position
            batch.n_seq_id[k] = 1
            batch.seq_id[k][0] = 0
            batch.logits[k] = wanted
        batch.n_tokens = len(entries)
        status = llama_cpp.llama_decode(self.ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode failed ({status})")
        self.evaluated += len(entries)

    def _logits(self, index: int) -> npt.NDArray[np.float32]:
        """The logits after the `index`-th token of the last batch."""
        pointer = llama_cpp.llama_get_logits_ith(self.ctx, index)
        return np.ctypeslib.as_array(pointer, shape=(self.n_vocab,)).copy()


class GrammarPicker:
    """Picks tokens for one draw under a grammar as llama.cpp's common sampler does: the
    draw's chain picks from all the logits, and the grammar checks that one token; only a
    token the grammar refuses costs a pass of the grammar over the whole vocabulary (about
    8 ms for SmolLM2's, a third of a call's decoding when it ran on every token)."""

    def __init__(self, vocab: Any, n_vocab: int, grammar: str, draw: Draw) -> None:
        self.rule = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        if not self.rule:
            raise ValueError(f"llama.cpp cannot parse the grammar {grammar[:80]!r}")
        self.chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        if draw.temperature <= 0:
            stages = [llama_cpp.llama_sampler_init_greedy()]
        else:
            stages = [llama_cpp.llama_sampler_init_top_k(draw.top_k), llama_cpp.llama_sampler_init_top_p(draw.top_p, 1),
                      llama_cpp.llama_sampler_init_min_p(draw.min_p, 1),
                      llama_cpp.llama_sampler_init_temp(draw.temperature), llama_cpp.llama_sampler_init_dist(draw.seed)]
        for stage in stages:
            llama_cpp.llama_sampler_chain_add(self.chain, stage)
        self.n_vocab = n_vocab
        self.one = (llama_cpp.llama_token_data * 1)()
        self.all = np.zeros(n_vocab, dtype=[("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])

    def pick(self, ctx: Any) -> int:
        """The next token after the context's last logits, accepted by the grammar."""
        token = int(llama_cpp.llama_sampler_sample(self.chain, ctx, -1))
        if not self._allows(token):
            token = self._constrained(ctx)
        llama_cpp.llama_sampler_accept(self.rule, token)
        return token

    def close(self) -> None:
        llama_cpp.llama_sampler_free(self.chain)
        llama_cpp.llama_sampler_free(self.rule)

    def _allows(self, token: int) -> bool:
        self.one[0] = llama_cpp.llama_token_data(token, 1.0, 0.0)
        single = llama_cpp.llama_token_data_array(data=self.one, size=1, selected=-1, sorted=False)
        llama_cpp.llama_sampler_apply(self.rule, ctypes.byref(single))
        return bool(np.isfinite(self.one[0].logit))

    def _constrained(self, ctx: Any) -> int:
        """The chain's pick among the tokens the grammar allows."""
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1), shape=(self.n_vocab,))
        self.all["id"] = np.arange(self.n_vocab)
        self.all["logit"] = logits
        self.all["p"] = 0.0
        data = ctypes.cast(self.all.ctypes.data, ctypes.POINTER(llama_cpp.llama_token_data))
        candidates = llama_cpp.llama_token_data_array(data=data, size=self.n_vocab, selected=-1, sorted=False)
        llama_cpp.llama_sampler_apply(self.rule, ctypes.byref(candidates))
        llama_cpp.llama_sampler_apply(self.chain, ctypes.byref(candidates))
        return int(candidates.data[candidates.selected].id)
