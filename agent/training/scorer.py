"""A token scorer that reuses its KV cache across texts sharing a prefix, for the many
closely related texts the call filter scores (the same text before a position, with
and without each candidate call)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agent.training.prefix import PrefixModel


class CachedScorer:
    """`agent.finetune.Scorer` over a `PrefixModel`, remembering every answer."""

    def __init__(self, model: PrefixModel) -> None:
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
        self.model.eval(head + tail, logits_from=len(head) - 1)
        scores = np.stack([self.model.logits_at(p) for p in range(len(head) - 1, len(head) + len(tail) - 1)])
        scores = scores.astype(np.float64)
        top = scores.max(axis=1, keepdims=True)
        log_z = top[:, 0] + np.log(np.exp(scores - top).sum(axis=1))
        picked = scores[np.arange(len(tail)), np.asarray(tail)]
        return [float(x) for x in picked - log_z]
