"""Sampling on worker processes: the same annotated texts as sampling in this process, in
the texts' order; stopped early, no worker is left; a tool a fresh process cannot find by
name is sampled here."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.models.catalog import model_path
from agent.tools import installed, tool
from agent.training import annotating, corpus
from agent.training.sampling import Annotated, Sampler, SamplingConfig

TEXTS = corpus.generated(2, seed=11)
CONFIG = SamplingConfig(per_position=2, answer_candidates=3)


def summary(found: list[Annotated]) -> list[tuple[str, str, int, int, int]]:
    return [(a.source, a.text, a.positions, a.sampled, a.kept) for a in found]


def test_texts_sampled_on_two_workers_are_those_sampled_here_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    base, calculator = model_path("smollm2-135m"), installed("Calculator")
    pooled_with: list[int] = []
    pooled = annotating._pooled

    def spy(base: Path, name: str, config: SamplingConfig, texts: list[str], workers: int,
            threads: int) -> Iterator[Annotated]:
        pooled_with.append(workers)
        yield from pooled(base, name, config, texts, workers, threads)

    monkeypatch.setattr(annotating, "_pooled", spy)
    here = list(annotating.annotated(base, calculator, CONFIG, TEXTS, workers=1))
    assert pooled_with == []
    on_workers = list(annotating.annotated(base, calculator, CONFIG, TEXTS, workers=2))
    assert pooled_with == [2]
    assert summary(on_workers) == summary(here)
    assert [a.source for a in here] == TEXTS and sum(a.kept for a in here) > 0, "calls to compare"
    # the second text's worker had sampled nothing before it: equal only if each text seeds its own draws
    assert sum(a.sampled for a in here) > sum(a.positions for a in here), "draws beyond the greedy candidates"


def test_sampling_stopped_early_leaves_no_worker_behind() -> None:
    run = annotating.annotated(model_path("smollm2-135m"), installed("Calculator"), CONFIG, TEXTS * 3, workers=2)
    first = next(run)
    run.close()
    assert first.source == TEXTS[0]
    assert multiprocessing.active_children() == []


def test_a_tool_a_worker_cannot_find_by_name_is_sampled_here() -> None:
    @tool
    def Calculator(expression: str) -> str:
        """Not the installed calculator."""
        return expression

    assert annotating._by_name(installed("Calculator"))
    assert not annotating._by_name(Calculator)
    assert 1 <= annotating.default_workers() <= annotating.MAX_WORKERS


def test_a_text_too_long_for_the_models_context_is_left_without_calls() -> None:
    long = ("Question: " + " ".join(f"Shelf {i} holds {i * 7} jars." for i in range(1, 80))
            + "\nAnswer: The answer is 42.")
    found = list(annotating.annotated(model_path("smollm2-135m"), installed("Calculator"), CONFIG,
                                      [long, TEXTS[0]], workers=1))
    assert found[0].too_long and found[0].text == long and found[0].kept == found[0].positions == 0
    assert not found[1].too_long and found[1].source == TEXTS[0], "the next text is sampled as usual"


def test_every_text_of_the_default_corpus_fits_the_samplers_context() -> None:
    base = model_path("smollm2-135m")
    sampler_lm, scorer_lm = annotating._models(base, 1)
    sampler = Sampler(sampler_lm, scorer_lm, installed("Calculator"), config=SamplingConfig())
    try:
        longest = sorted(corpus.generated(600), key=len)[-20:]
        assert all(sampler.fits(text) for text in longest)
        assert not sampler.fits(longest[0] + " More words." * 200)
    finally:
        sampler.close()
        sampler_lm.close()
        scorer_lm.close()
