from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from agent.events import CallRecord, RunResult, StopReason
from agent.finetune import (
    Pair, filter_calls, instruction_pairs, judge_calls, to_jsonl, weighted_loss, weights,
)
from agent.models.base import Usage


class KnowsTheAnswer:
    """A scorer that predicts the continuation well only when its first word is already
    in the context, and records what it was asked."""

    def __init__(self) -> None:
        self.contexts: list[str] = []

    def token_logprobs(self, context: str, continuation: str) -> Sequence[float]:
        self.contexts.append(context)
        words = continuation.split()
        first = -0.1 if words and words[0].strip(".") in context else -5.0
        return [first] + [-1.0] * (len(words) - 1)


def test_weights_follow_the_paper() -> None:
    w = weights(5)
    assert w == pytest.approx([1 / 3, 0.8 / 3, 0.6 / 3, 0.4 / 3, 0.2 / 3])
    assert weighted_loss([-1.0] * 8) == pytest.approx(1.0)
    assert weighted_loss([-2.0]) == pytest.approx(2.0)
    assert weighted_loss([]) == 0.0


def test_a_call_whose_result_helps_is_kept_and_one_that_does_not_is_dropped() -> None:
    text = ("Out of 1400 people 400 passed, [Calculator(400 / 1400) → 0.29] 0.29 of them. "
            "The sky is [Search(sky colour) → green] blue today.")
    scorer = KnowsTheAnswer()
    kept, verdicts = filter_calls(text, scorer)
    assert [v.name for v in verdicts] == ["Calculator", "Search"]
    assert verdicts[0].keep() and not verdicts[1].keep()
    assert verdicts[0].gain == pytest.approx(weighted_loss([-5.0, -1.0, -1.0, -1.0, -1.0]) - weighted_loss([-0.1, -1.0, -1.0, -1.0, -1.0]))
    assert kept == "Out of 1400 people 400 passed, [Calculator(400 / 1400) → 0.29] 0.29 of them. The sky is  blue today."
    without_result = [c for c in scorer.contexts if c.endswith("[Calculator(400 / 1400) → ]")]
    assert len(without_result) == 1
    assert all("[Search" not in c for c in scorer.contexts if "[Calculator" in c)


def test_calls_without_a_continuation_are_not_judged() -> None:
    assert judge_calls("The end [Calendar() → Today is Monday.]", KnowsTheAnswer()) == []


def result(text: str, reason: StopReason, *errors: str | None) -> RunResult:
    calls = tuple(CallRecord(i, "T", "", "", result=None if e else "ok", error=e) for i, e in enumerate(errors))
    return RunResult(text, calls, Usage(), reason, "", 0.0)


def test_only_good_runs_become_pairs() -> None:
    runs = [
        ("q1", result("a [T() → ok] ok b", StopReason.END, None)),
        ("q5", result("a [T() → ok] b", StopReason.END, None)),  # the result is not used
        ("q6", result("a guess", StopReason.END)),  # no call, no check
        ("q2", result("cut off", StopReason.MAX_TOKENS)),
        ("q3", result("x [T() → Error: no] y", StopReason.END, "no")),
        ("q4", result("  ", StopReason.END)),
    ]
    pairs = list(instruction_pairs(runs))
    assert pairs == [Pair("q1", "a [T() → ok] ok b", 1)]
    assert json.loads(next(to_jsonl(pairs))) == {"instruction": "q1", "output": "a [T() → ok] ok b", "calls": 1}


@pytest.mark.model
def test_the_real_model_prefers_the_right_result() -> None:
    from agent.models.llama_scorer import LlamaScorer

    scorer = LlamaScorer.named("smollm2-135m", n_ctx=512)
    right = judge_calls("The capital of France is [Search(capital of France) → Paris] Paris, a city on the Seine.", scorer)
    wrong = judge_calls("The capital of France is [Search(capital of France) → Madrid] Paris, a city on the Seine.", scorer)
    assert right[0].loss_with_result < wrong[0].loss_with_result
    assert right[0].gain > wrong[0].gain
