"""How often each training text is trained: multi-step texts and one-step texts with a
rare operation more often than the rest."""

from __future__ import annotations

import pytest

from agent.errors import ConfigError
from agent.training import balance, pipeline
from agent.training.pipeline import TrainConfig


def one_step(expression: str, result: str) -> str:
    return f"Question: {expression}?\nAnswer: The answer is [Calculator({expression}) → {result}] {result}."


def test_a_call_is_known_by_its_tool_and_its_operators() -> None:
    assert balance.operation(one_step("1575 / 35", "45")) == "Calculator /"
    assert balance.operation(one_step("12% of 320", "38.4")) == "Calculator %"
    assert balance.operation(one_step("24 * 38 + 6 * 125", "1662")) == "Calculator * + *"
    assert balance.operation("Answer: [Search(3 * 4) → none] none.") == "", "another tool's call"
    assert balance.operation("Answer: The answer is 12.") == "", "no call"


def test_a_one_step_text_with_a_rare_operation_is_trained_more_up_to_the_bound() -> None:
    products = [one_step(f"{n} * 3", str(3 * n)) for n in range(2, 8)]  # six products
    quotient, sum_ = one_step("45 / 9", "5"), one_step("4 + 5", "9")
    difference = [one_step(f"{n} - 1", str(n - 1)) for n in range(2, 6)]  # four differences
    compound = one_step("8 * 51 / 3", "136")
    texts = [*products, quotient, sum_, *difference, compound]
    counts = balance.times(texts, multi_step=2, rare_operation=3)
    assert counts[:6] == [1] * 6, "the most common operation is trained once"
    assert counts[6:8] == [3, 3], "6 / 1 rounds to 6, bounded by 3"
    assert counts[8:12] == [2] * 4, "6 / 4 rounds to 2"
    assert counts[12] == 2, "a multi-step text is trained as multi_step says, whatever its operators"
    assert balance.times(texts, multi_step=1, rare_operation=1) == [1] * len(texts)


def test_the_documents_repeat_rare_operations_as_the_config_says() -> None:
    product, other, quotient = one_step("23 * 48", "1104"), one_step("7 * 6", "42"), one_step("45 / 9", "5")
    docs = pipeline.documents(TrainConfig(rare_operation_repeats=2, multi_step_repeats=1), [product, other, quotient])
    assert docs == [product, other, quotient, quotient]
    once = pipeline.documents(TrainConfig(rare_operation_repeats=1), [product, other, quotient])
    assert once == [product, other, quotient]


def test_a_rare_operation_repeat_below_one_is_refused_before_any_work() -> None:
    with pytest.raises(ConfigError, match="at least once"):
        next(iter(pipeline.train(TrainConfig(rare_operation_repeats=0))))
