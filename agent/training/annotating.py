"""Texts annotated with sampled and filtered calls, here or on several processes.

Sampling is a chain of small model evaluations, one text at a time, and a single llama.cpp
thread keeps one core busy. On several cores the texts are shared out among worker
processes instead: each loads the model once (a sampler and a scorer) and annotates the
texts it is handed, and the results come back in the order of the texts. A text's calls
do not depend on which process annotates it, nor on the texts before it (the sampler's
random numbers are seeded per text).

Workers start by spawning and find the tool again by name, so only an installed tool is
sampled on workers; any other is sampled here.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Generator, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from agent.errors import ConfigError
from agent.tools import Tool, installed
from agent.training.sampling import Annotated, Sampler, SamplingConfig
from agent.training.prefix import PrefixModel

MAX_WORKERS = 4
"""Each worker holds two copies of the model with their logits (about 0.9 GB for
SmolLM2-135M)."""


def default_workers() -> int:
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def annotated(base: Path, tool: Tool, config: SamplingConfig, texts: list[str], *, workers: int,
              threads: int = 1) -> Generator[Annotated, None, None]:
    """Each of `texts` annotated with calls to `tool`, in order, on up to `workers`
    processes that share `threads` llama.cpp threads (at least one each)."""
    workers = min(workers, len(texts))
    if workers > 1 and _by_name(tool):
        yield from _pooled(base, tool.name, config, texts, workers, max(1, threads // workers))
        return
    sampler_lm, scorer_lm = _models(base, threads)
    sampler = Sampler(sampler_lm, scorer_lm, tool, config=config)
    try:
        for text in texts:
            yield sampler.annotate(text)
    finally:
        sampler.close()
        sampler_lm.close()
        scorer_lm.close()


SAMPLING_TYPE = "q8_0"
"""The type of the copy of the base model that samples and scores: on a CPU, llama.cpp
evaluates a prompt of SmolLM2-135M about 1.9 times as fast in Q8_0 as in the packaged Q4_1
(3.6 against 6.7 ms a token on one thread), and a Q8_0 copy of Q4_1 weights is all but
exact."""


def sampling_model(base: Path, folder: Path) -> Path:
    """A `SAMPLING_TYPE` copy of `base` in `folder` (the caller removes it)."""
    from llama_cpp._logger import set_verbose

    from agent.training.fit import quantize

    set_verbose(False)  # llama.cpp's notes on every tensor stay off the caller's terminal
    copy = folder / f"{base.stem}.sampling-{SAMPLING_TYPE}.gguf"
    quantize(base, copy, SAMPLING_TYPE, threads=os.cpu_count() or 1)
    return copy


def _models(base: Path, threads: int) -> tuple[PrefixModel, PrefixModel]:
    return PrefixModel(base, threads=threads), PrefixModel(base, threads=threads)


def _by_name(tool: Tool) -> bool:
    """Whether a fresh process finds this very tool by its name."""
    try:
        return installed(tool.name).fn is tool.fn
    except ConfigError:
        return False


def _pooled(base: Path, name: str, config: SamplingConfig, texts: list[str], workers: int,
            threads: int) -> Iterator[Annotated]:
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                               initargs=(base, name, config, threads))
    try:
        yield from pool.map(_annotate, texts)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # stopped early: texts not begun are dropped, begun ones end


_sampler: Sampler | None = None
"""A worker's sampler, made once by `_start`."""


def _start(base: Path, name: str, config: SamplingConfig, threads: int) -> None:
    global _sampler
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's: it stops handing out texts
    sampler_lm, scorer_lm = _models(base, threads)
    _sampler = Sampler(sampler_lm, scorer_lm, installed(name), config=config)


def _annotate(text: str) -> Annotated:
    assert _sampler is not None, "the worker's initializer makes the sampler"
    return _sampler.annotate(text)
