"""A multi-step answer with a call at every step becomes one compound call: precedence,
numbers as written, percentages, chains that do not hold together."""

from __future__ import annotations

import pytest

from agent.arithmetic import evaluate
from agent.training import corpus
from agent.training.compound import compound, several_steps


def answer(text: str | None) -> str | None:
    return None if text is None else text.split("\nAnswer: ", 1)[1]


@pytest.mark.parametrize(("steps", "expected"), [
    ("First, 8 rolls of 51 is [Calculator(8 * 51) → 408] 408. Split 3 ways, the answer is "
     "[Calculator(408 / 3) → 136] 136.",
     "The answer is [Calculator(8 * 51 / 3) → 136] 136."),
    ("First, 3 and 4 is [Calculator(3 + 4) → 7] 7. Twice that, the answer is [Calculator(7 * 2) → 14] 14.",
     "The answer is [Calculator((3 + 4) * 2) → 14] 14."),
    ("First, [Calculator(50 - 20) → 30] 30. Out of 100, the answer is [Calculator(100 - 30) → 70] 70.",
     "The answer is [Calculator(100 - (50 - 20)) → 70] 70."),
    ("First, the hats cost [Calculator(3 * 12.50) → 37.5] 37.5. Out of $50, the answer is "
     "[Calculator(50 - 37.5) → 12.5] 12.5.",
     "The answer is [Calculator(50 - 3 * 12.50) → 12.5] 12.5."),
    ("First, 20% of $90 is [Calculator(20% of 90) → 18] 18. Taken off $90, the answer is "
     "[Calculator(90 - 18) → 72] 72.",
     "The answer is [Calculator(90 - 90 * 20 / 100) → 72] 72."),
    ("First, the kites come to [Calculator(14 * 52) → 728] 728. The candles come to [Calculator(27 * 10) → 270] "
     "270. Adding the two, the answer is [Calculator(270 + 728) → 998] 998.",
     "The answer is [Calculator(27 * 10 + 14 * 52) → 998] 998."),
])
def test_steps_become_one_call_that_gives_the_same_result(steps: str, expected: str) -> None:
    rewritten = compound(f"Question: q?\nAnswer: {steps}")
    assert answer(rewritten) == expected
    assert rewritten is not None and rewritten.startswith("Question: q?\nAnswer: ")


@pytest.mark.parametrize("steps", [
    # the last call does not use the first step's result: the chain is not the model's working
    "First, 9 rolls of 18 is [Calculator(9 * 18) → 162] 162. Split 3 ways, the answer is [Calculator(3 * 18) → 54] 54.",
    # a result used twice by the later call
    "First, [Calculator(2 * 3) → 6] 6. Then the answer is [Calculator(6 * 6) → 36] 36.",
    # one call, or a last call not after "the answer is"
    "The answer is [Calculator(23 * 48) → 1104] 1104.",
    "First, [Calculator(2 * 3) → 6] 6. Then [Calculator(6 + 1) → 7] 7, so the answer is 7.",
    # something that is not arithmetic on numbers
    "First, [Calculator(sqrt(16)) → 4] 4. Then the answer is [Calculator(4 + 1) → 5] 5.",
])
def test_chains_that_do_not_hold_together_are_not_rewritten(steps: str) -> None:
    assert compound(f"Question: q?\nAnswer: {steps}") is None


def test_a_text_without_the_answer_layout_is_not_rewritten() -> None:
    assert compound("We bought [Calculator(2 * 3) → 6] 6 and then [Calculator(6 + 1) → 7] 7.") is None


def test_every_generated_multi_step_problem_with_its_own_steps_as_calls_composes_rightly() -> None:
    """The corpus's worked steps written as calls (as a perfect sampler would) chain into
    a compound that the calculator evaluates to the problem's answer."""
    composed = 0
    for problem in corpus.problems(400, seed=3):
        if len(problem.steps) < 2:
            continue
        text = corpus.render(problem, corpus.ANSWER)
        for _, expression, value in problem.steps:
            text = text.replace(f" {value}.", f" [Calculator({expression}) → {value}] {value}.", 1)
        rewritten = compound(text)
        if rewritten is None:
            continue
        composed += 1
        call = rewritten.split("[Calculator(", 1)[1].split(") → ", 1)[0]
        value = evaluate(call)
        assert value is not None and float(value) == float(problem.steps[-1][2].replace(",", ""))
    assert composed >= 100


def test_a_text_has_several_steps_when_one_of_its_calls_does_more_than_one_operation() -> None:
    assert several_steps("Answer: The answer is [Calculator(24 * 38 + 6 * 125) → 1662] 1662.")
    assert several_steps("Q: 3 hats.\nAnswer: [Calculator(3 * 4) → 12] 12, so [Calculator(50 - 3 * 4) → 38] 38.")
    assert not several_steps("Answer: The answer is [Calculator(23 * 48) → 1104] 1104.")
    assert not several_steps("Answer: The answer is [Calculator(12% of 320) → 38.4] 38.4.")
    assert not several_steps("Answer: [Search(3 * 4 + 1) → none] none."), "another tool's call"
