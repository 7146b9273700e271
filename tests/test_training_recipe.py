"""The tuned model's recipe: which texts join the training set, and how the catalog
loads a model registered with its own number of few-shot examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.agent import INSTRUCTIONS
from agent.errors import ConfigError
from agent.models import user_models
from agent.models.catalog import model_profile
from agent.tools import installed
from agent.training import pipeline
from agent.training.pipeline import TrainConfig, answer_called, results_agree
from agent.training.prompted import documents, question_preamble


def test_a_text_joins_only_if_its_answer_carries_a_call() -> None:
    assert answer_called("Answer: The hats cost [Calculator(3 * 4) → 12] 12. Out of $50, the answer is "
                         "[Calculator(50 - 12) → 38] 38.")
    assert not answer_called("Answer: The hats cost [Calculator(3 * 4) → 12] 12. Out of $50, the answer is 38.")
    assert answer_called("We sold [Calculator(12 + 30) → 42] 42 crates."), "texts without the phrase join"
    assert TrainConfig().answer_calls_only and TrainConfig().examples is None, "the base's examples"


def test_a_registered_model_answers_with_its_own_number_of_examples(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(user_models.HOME_ENV, str(tmp_path))
    weights = tmp_path / "w.gguf"
    weights.write_bytes(b"GGUF")
    base = model_profile("smollm2-135m")
    user_models.register("tuned", weights, base="smollm2-135m", description="d", examples=0)
    tuned = model_profile("tuned")
    assert tuned.question.examples == 0 and base.question.examples > 0
    assert tuned.question.layout == base.question.layout and tuned.question.grammar == base.question.grammar
    assert tuned.task == base.task
    user_models.register("plain", weights, base="smollm2-135m", description="d")
    assert model_profile("plain") == base, "no examples recorded: the base's recipes"
    user_models.register("other", weights, base="unknown-base", description="d", examples=1)
    assert model_profile("other").question.examples == 1
    with pytest.raises(ConfigError, match="zero or more"):
        user_models.register("bad", weights, base="smollm2-135m", description="d", examples=-1)


def test_an_older_record_without_examples_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(user_models.HOME_ENV, str(tmp_path))
    weights = tmp_path / "w.gguf"
    weights.write_bytes(b"GGUF")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "old.json").write_text(
        f'{{"name": "old", "path": "{weights}", "base": "smollm2-135m", "description": "d"}}')
    found = user_models.find("old")
    assert found is not None and found.examples is None


def test_texts_are_trained_after_the_system_prompt_they_are_asked_with() -> None:
    tools = [installed("Calculator")]
    preamble = question_preamble(tools, 0)
    assert preamble.startswith(INSTRUCTIONS["question"]) and preamble.endswith("\n\n")
    assert "Calculator(" in preamble and "Examples:" not in preamble
    assert "Examples:" in question_preamble(tools, 1)
    asked = [f"Question: q{i}\nAnswer: The answer is {i}." for i in range(5)]
    docs = documents([*asked, "We sold 12 crates."], preamble, per_prompt=2)
    assert docs == [preamble + asked[0] + "\n\n" + asked[1], preamble + asked[2] + "\n\n" + asked[3],
                    preamble + asked[4], "We sold 12 crates."]


def test_a_text_whose_result_is_not_the_number_written_after_it_is_left_out() -> None:
    assert results_agree("Answer: 8 rolls of 51 is [Calculator(8 * 51) → 408] 408. Split 3 ways, the answer is "
                         "[Calculator(408 / 3) → 136] 136.")
    assert not results_agree("Answer: The answer is [Calculator(287 / 400) → 0.7175] 71.75."), "a prefix of it"
    assert not results_agree("Answer: The answer is [Calculator(12 * 2500) → 30000] 300."), "it begins with it"
    assert not results_agree("Answer: The answer is [Calculator(672 - 7071) → -6399] 6399."), "the other sign"
    assert results_agree("Today is [Calendar() → Today is Monday.] the 3rd."), "no number result: nothing to check"
    assert TrainConfig().agreeing_only


def test_a_multi_step_text_is_trained_as_often_as_the_config_says() -> None:
    one = "Question: 23 bags of 48?\nAnswer: The answer is [Calculator(23 * 48) → 1104] 1104."
    multi = "Question: 8 rolls of 51, 3 ways?\nAnswer: The answer is [Calculator(8 * 51 / 3) → 136] 136."
    assert pipeline.documents(TrainConfig(multi_step_repeats=3), [one, multi]) == [one, multi, multi, multi]
    assert pipeline.documents(TrainConfig(multi_step_repeats=1), [one, multi]) == [one, multi]
    prompted = pipeline.documents(TrainConfig(prompted=True, per_prompt=3, multi_step_repeats=2), [multi, one])
    assert len(prompted) == 1 and prompted[0].count(multi) == 2 and prompted[0].count(one) == 1
    default = pipeline.documents(TrainConfig(), [one, multi])
    assert default.count(multi) == TrainConfig().multi_step_repeats and default.count(one) == 1


def test_a_multi_step_repeat_below_one_is_refused_before_any_work() -> None:
    with pytest.raises(ConfigError, match="at least once"):
        next(iter(pipeline.train(TrainConfig(multi_step_repeats=0))))
