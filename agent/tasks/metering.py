"""What a run spends: model time, and money from a small price table."""

from __future__ import annotations

import time
from collections.abc import Iterator

from agent.models.base import Completion, Model, Request, Usage, WrappedModel

PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "smollm2": (0.0, 0.0),
    "gemma3": (0.0, 0.0),
    "gemma-3": (0.0, 0.0),
}
"""US dollars per million (prompt, completion) tokens, by model-name prefix."""

LOCAL_MODULES = ("agent.models.llama",)


def price_of(model: Model) -> tuple[float, float] | None:
    """The model's price per million tokens, (0, 0) for a local model, None if unknown."""
    if type(model).__module__.startswith(LOCAL_MODULES):
        return (0.0, 0.0)
    name = model.name.casefold().rsplit("/", 1)[-1].split(":")[-1]
    matches = [prefix for prefix in PRICES if name.startswith(prefix)]
    if not matches:
        return None
    return PRICES[max(matches, key=len)]


def cost_of(usage: Usage, price: tuple[float, float] | None) -> float | None:
    if price is None:
        return None
    return (usage.prompt_tokens * price[0] + usage.completion_tokens * price[1]) / 1_000_000


class TimedModel(WrappedModel):
    """Wraps a model and adds up the seconds spent inside its streams."""

    def __init__(self, model: Model) -> None:
        super().__init__(model)
        self.seconds = 0.0

    def stream(self, request: Request, completion: Completion) -> Iterator[str]:
        started = time.perf_counter()
        try:
            chunks = self.inner.stream(request, completion)
        finally:
            self.seconds += time.perf_counter() - started
        return self._timed(chunks)

    def _timed(self, chunks: Iterator[str]) -> Iterator[str]:
        try:
            while True:
                started = time.perf_counter()
                try:
                    chunk = next(chunks)
                except StopIteration:
                    return
                finally:
                    self.seconds += time.perf_counter() - started
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
