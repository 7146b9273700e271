"""Token log-probabilities from a local GGUF model, for the Toolformer call filter."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

import llama_cpp
import numpy as np

from agent.models.catalog import model_path
from agent.models.llama_cpu import plain_buffers


class LlamaScorer:
    """`token_logprobs(context, continuation)`: how likely the model finds each token of
    `continuation` after `context`. Keeps its own model instance (with logits for every
    position), apart from the one that generates."""

    def __init__(self, path: str | PathLike[str], *, n_ctx: int = 2048, n_threads: int | None = None) -> None:
        self.n_ctx = n_ctx
        plain_buffers()
        self._llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, logits_all=True, verbose=False,
                                    n_threads=n_threads)

    @classmethod
    def named(cls, name: str, **options: int) -> LlamaScorer:
        return cls(model_path(name), **options)

    def token_logprobs(self, context: str, continuation: str) -> Sequence[float]:
        head = self._llm.tokenize(context.encode(), add_bos=True, special=False)
        tail = self._llm.tokenize(continuation.encode(), add_bos=False, special=False)
        if not tail:
            return []
        head = head[-max(1, self.n_ctx - len(tail)) :]
        tokens = head + tail
        self._llm.reset()  # type: ignore[no-untyped-call]
        self._llm.eval(tokens)
        logits = np.asarray(self._llm.scores[len(head) - 1 : len(tokens) - 1], dtype=np.float64)
        top = logits.max(axis=1, keepdims=True)
        log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
        picked = logits[np.arange(len(tail)), np.asarray(tail)]
        return [float(x) for x in picked - log_z]
