"""The sampler's choices that need no model: the prompt it proposes calls with, which
candidates reach the loss filter, when it stops at a position, and which texts join the
training set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.finetune import CallVerdict
from agent.tools import installed
from agent.cli.train import TrainView
from agent.training import SamplingFinished, pipeline
from agent.training.pipeline import TrainConfig
from agent.training.sampling import (Annotated, Sampler, SamplingConfig, _operands_given, _same_number,
                                     sampling_prompt, scoring_prefix)

QUESTION = "Question: Rosa had 7 sacks with 25 stamps each, then lost 128 stamps. How many stamps are left?\n"


def test_the_model_reads_the_whole_text_before_it_proposes_calls() -> None:
    prompt = sampling_prompt(installed("Calculator"))
    assert prompt.count("Input: Question:") == prompt.count("Output: Question:") >= 4
    assert "Input: Question: A van holds 14 crates of 36 melons. How many melons does it hold?\nAnswer: The " \
           "answer is 504.\nOutput:" in prompt
    assert "[Calculator(15% of 1240)]" in prompt, "a percentage of a number has an example"
    assert "Input:" not in sampling_prompt(installed("Calculator"), show_text=False)


def test_the_filter_scores_after_examples_whose_calls_have_their_results() -> None:
    preamble = scoring_prefix(installed("Calculator"))
    assert preamble.count(" → ") == preamble.count("[Calculator(") >= 6
    assert "[Calculator(15% of 1240) → 186] 186." in preamble and "[Calculator(20% of 90) → 18] 18." in preamble
    assert "→ ]" not in preamble, "every example shows its result"


def test_a_call_must_give_the_number_written_next_from_numbers_the_text_gave() -> None:
    assert _same_number("175", "175.") and _same_number("12.5", "$12.50") and _same_number("1250", "1,250")
    assert not _same_number("0.7175", "71.75") and not _same_number("-6399", "6399")
    assert _same_number("33.3333 m/s", "33"), "a result that is no number is left to the loss"
    before = QUESTION + "Answer: 7 sacks of 25 is 175. After losing 128, the answer is"
    assert _operands_given("175 - 128", before) and _operands_given("7 * 25 - 128", before)
    assert _operands_given("175 * 100 / 100", before), "constants such as 100 need not be written"
    assert not _operands_given("94 / 2", before), "an operand the text never gave"


class ScriptedSampler(Sampler):
    """A sampler whose candidates, results and verdicts are given."""

    def __init__(self, candidates: list[str], gains: dict[str, float], config: SamplingConfig) -> None:
        self.config, self.script, self.gains = config, candidates, gains
        self.asked: list[int] = []
        self.judged: list[str] = []

    def _candidates(self, text: str, count: int) -> Iterator[str]:
        self.asked.append(count)
        yield from self.script[:count]

    def _execute(self, raw: str) -> str | None:
        return {"7 * 25": "175", "7 + 25": "32", "175 - 128": "47", "47": "47"}.get(raw)

    def _judge(self, before: str, after: str, raw: str, result: str) -> CallVerdict | None:
        self.judged.append(raw)
        return CallVerdict("Calculator", raw, result, 1.0 - self.gains[raw], 1.0, 1.0)


def test_only_calls_that_give_the_written_number_are_scored_and_the_first_kept_one_ends_the_position() -> None:
    config = SamplingConfig(per_position=3, answer_candidates=5)
    sampler = ScriptedSampler(["7 + 25", "47", "175 - 128", "7 * 25"], {"47": 0.1, "175 - 128": 2.0}, config)
    out = Annotated(source="", text="")
    best = sampler._best(out, QUESTION + "Answer: 7 sacks of 25 is 175. After losing 128, the answer is", " 47.")
    assert best is not None and best.raw == "175 - 128"
    assert sampler.judged == ["175 - 128"], "32 is not 47, `47` copies a number the text has not given yet: " \
                                            "neither is scored; nothing is tried after the kept call"
    assert sampler.asked == [5] and out.sampled == 3
    step = ScriptedSampler(["7 + 25", "7 * 25"], {"7 * 25": 0.2}, config)
    assert step._best(Annotated(source="", text=""), QUESTION + "Answer: 7 sacks of 25 is", " 175.") is None
    assert step.asked == [3] and step.judged == ["7 * 25"], "below tau: not kept"


def test_a_text_can_be_asked_to_keep_a_call_at_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    full = QUESTION + "Answer: 7 sacks of 25 is 175. After losing 128, the answer is 47."
    half = full.replace("47.", "[Calculator(175 - 128) → 47] 47.")
    both = half.replace("is 175.", "is [Calculator(7 * 25) → 175] 175.")

    def sample(config: TrainConfig, tool: object, texts: list[str]) -> Iterator[Annotated]:
        yield Annotated(source=full, text=half, positions=2, kept=1)
        yield Annotated(source=full, text=both, positions=2, kept=2)

    monkeypatch.setattr(pipeline, "sample", sample)

    def chosen(config: TrainConfig) -> list[str]:
        run = pipeline._sampled(config, [full, full])
        while True:
            try:
                next(run)
            except StopIteration as stop:
                return list(stop.value)

    assert not TrainConfig().every_step and TrainConfig().compound
    assert chosen(TrainConfig(every_step=True, compound=False)) == [both]
    assert chosen(TrainConfig(compound=False)) == [half, both]
    assert chosen(TrainConfig()) == [QUESTION + "Answer: The answer is [Calculator(7 * 25 - 128) → 47] 47."], \
        "with compound calls (the default) a worked answer with several steps joins only with a call at each, " \
        "as one call"


def test_texts_too_long_to_annotate_are_counted_and_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    full = QUESTION + "Answer: 7 sacks of 25 is 175. After losing 128, the answer is 47."
    half = full.replace("47.", "[Calculator(175 - 128) → 47] 47.")

    def sample(config: TrainConfig, tool: object, texts: list[str]) -> Iterator[Annotated]:
        yield Annotated(source=full, text=full, too_long=True)
        yield Annotated(source=full, text=half, positions=2, kept=1)

    monkeypatch.setattr(pipeline, "sample", sample)
    events = list(pipeline._sampled(TrainConfig(compound=False), [full, full]))
    finished = events[-1]
    assert isinstance(finished, SamplingFinished)
    assert (finished.texts, finished.too_long, finished.training_texts) == (2, 1, 1)
    view = TrainView()
    view.handle(finished)
    assert view.done[-1].endswith("1 training texts; 1 texts too long to annotate")


def test_a_saved_text_counts_its_steps_and_calls_as_a_sampled_one() -> None:
    """`--dataset` texts are chosen by the same rules: the steps of the text without its
    calls, and whether each has a call."""
    full = QUESTION + "Answer: 7 sacks of 25 is 175. After losing 128, the answer is 47."
    half = full.replace("47.", "[Calculator(175 - 128) → 47] 47.")
    both = half.replace("is 175.", "is [Calculator(7 * 25) → 175] 175.")
    assert pipeline._steps_called(half) == (False, 2)
    assert pipeline._steps_called(both) == (True, 2)
    assert pipeline._final(TrainConfig(compound=True), half, *pipeline._steps_called(half)) is None
    assert pipeline._final(TrainConfig(compound=True), both, *pipeline._steps_called(both)) == \
        QUESTION + "Answer: The answer is [Calculator(7 * 25 - 128) → 47] 47."
    assert pipeline._final(TrainConfig(compound=False), half, *pipeline._steps_called(half)) == half
