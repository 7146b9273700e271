"""A token scorer that reuses its KV cache across texts sharing a prefix, for the many
closely related texts the call filter scores (the same text before a position, with
and without each candidate call)."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import Any

import llama_cpp
import numpy as np

from agent.models.llama_cpu import plain_buffers


class PrefixLlama:
    """A llama.cpp model with logits for every position that evaluates only the tokens
    past the longest prefix it has already evaluated."""

    def __init__(self, path: str | PathLike[str], *, n_ctx: int = 1280, threads: int = 1) -> None:
        """`n_ctx`: room for the calculator's sampling prompt and twice a generated text
        (`tests/test_training_annotating.py`)."""
        self.n_ctx = n_ctx
        plain_buffers()
        self.llm: Any = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_batch=256, logits_all=True,
                                        verbose=False, n_threads=threads, n_threads_batch=threads)
        self.evaluated = 0

    def tokenize(self, text: str, *, bos: bool = False) -> list[int]:
        return list(self.llm.tokenize(text.encode(), add_bos=bos, special=False))

    def detokenize(self, tokens: Sequence[int]) -> str:
        return bytes(self.llm.detokenize(list(tokens))).decode("utf-8", errors="replace")

    def eval(self, tokens: Sequence[int]) -> None:
        """Make `tokens` the evaluated sequence; only the new suffix is computed."""
        held = self.llm.input_ids[: self.llm.n_tokens]
        same = 0
        for a, b in zip(held, tokens):
            if a != b:
                break
            same += 1
        self.llm.n_tokens = same
        rest = list(tokens[same:])
        if rest:
            self.llm.eval(rest)
            self.evaluated += len(rest)

    def logprobs_at(self, index: int) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Log-probabilities of the next token after position `index` of the sequence."""
        logits = np.asarray(self.llm.scores[index], dtype=np.float64)
        top = logits.max()
        shifted: np.ndarray[Any, np.dtype[np.float64]] = logits - (top + np.log(np.exp(logits - top).sum()))
        return shifted

    def close(self) -> None:
        self.llm.close()


class CachedScorer:
    """`agent.finetune.Scorer` over a `PrefixLlama`, remembering every answer."""

    def __init__(self, model: PrefixLlama) -> None:
        self.model = model
        self._memo: dict[tuple[str, str], list[float]] = {}

    def token_logprobs(self, context: str, continuation: str) -> Sequence[float]:
        key = (context, continuation)
        if key not in self._memo:
            self._memo[key] = self._score(context, continuation)
        return self._memo[key]

    def _score(self, context: str, continuation: str) -> list[float]:
        head = self.model.tokenize(context, bos=True)
        tail = self.model.tokenize(continuation)
        if not tail:
            return []
        head = head[-max(1, self.model.n_ctx - len(tail)) :]
        self.model.eval(head + tail)
        scores = np.asarray(self.model.llm.scores[len(head) - 1 : len(head) + len(tail) - 1], dtype=np.float64)
        top = scores.max(axis=1, keepdims=True)
        log_z = top[:, 0] + np.log(np.exp(scores - top).sum(axis=1))
        picked = scores[np.arange(len(tail)), np.asarray(tail)]
        return [float(x) for x in picked - log_z]
