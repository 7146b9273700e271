"""The sampler's model: evaluated by prefix, it gives the log-probabilities a fresh
evaluation gives; its calls follow the grammar, its greedy call is llama-cpp-python's
greedy call; the Q8_0 copy that samples is made once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from agent.grammar import tool_grammar
from agent.markup import DEFAULT_MARKUP
from agent.models.catalog import model_path
from agent.tools import installed
from agent.training import annotating
from agent.training.prefix import Draw, PrefixModel
from agent.training.sampling import sampling_prompt
from agent.training.scorer import CachedScorer

TEXT = "Question: A van holds 14 crates of 36 melons. How many melons does it hold?\nAnswer: The answer is"


@pytest.fixture(scope="module")
def model() -> Iterator[PrefixModel]:
    found = PrefixModel(model_path("smollm2-135m"))
    yield found
    found.close()


def logprobs(logits: np.ndarray) -> np.ndarray:
    logits = logits.astype(np.float64)
    top = logits.max()
    return logits - (top + np.log(np.exp(logits - top).sum()))


def fresh_logprobs(tokens: list[int], index: int) -> np.ndarray:
    llm = llama_cpp.Llama(model_path=str(model_path("smollm2-135m")), n_ctx=512, logits_all=True, verbose=False,
                          n_threads=1)
    try:
        llm.eval(tokens)
        logits = np.asarray(llm.scores[index], dtype=np.float64)
    finally:
        llm.close()
    return logprobs(logits)


def test_a_text_evaluated_past_a_shared_prefix_scores_as_a_fresh_evaluation(model: PrefixModel) -> None:
    first = model.tokenize(TEXT + " 504.", bos=True)
    second = model.tokenize(TEXT + " [Calculator(14 * 36)] 504.", bos=True)
    model.eval(first, logits_from=len(first) - 3)
    decoded = model.evaluated
    model.eval(second, logits_from=len(second) - 3)
    shared = next(i for i, (a, b) in enumerate(zip(first, second)) if a != b)
    assert model.evaluated - decoded == len(second) - shared, "only the tokens past the shared prefix are decoded"
    assert set(model.rows) == set(range(len(second) - 3, len(second))), "logits only where they are read"
    got = logprobs(model.logits_at(len(second) - 2))
    assert np.allclose(got, fresh_logprobs(second, len(second) - 2), atol=2e-3)
    model.eval(second, logits_from=len(second) - 5)
    assert model.evaluated - decoded == len(second) - shared + 5, "positions without kept logits are decoded again"


def test_the_scorer_gives_the_log_probabilities_of_a_fresh_evaluation(model: PrefixModel) -> None:
    scorer = CachedScorer(model)
    found = scorer.token_logprobs(TEXT, " 504.")
    context, tail = model.tokenize(TEXT, bos=True), model.tokenize(" 504.")
    expected = [fresh_logprobs(context + tail, len(context) - 1 + i)[t] for i, t in enumerate(tail)]
    assert np.allclose(found, expected, atol=2e-3)
    assert scorer.token_logprobs(TEXT, " 504.") is found, "remembered"


def test_calls_follow_the_grammar_and_the_greedy_one_is_llama_cpp_pythons(model: PrefixModel) -> None:
    calculator = installed("Calculator")
    grammar = tool_grammar(calculator)
    text = sampling_prompt(calculator) + f"Input: {TEXT} 504.\nOutput: {TEXT} " + DEFAULT_MARKUP.opened("Calculator")
    head = model.tokenize(text, bos=True)
    greedy = model.propose(head, Draw(), grammar=grammar, close=DEFAULT_MARKUP.close, max_tokens=32)
    llm = llama_cpp.Llama(model_path=str(model_path("smollm2-135m")), n_ctx=1280, verbose=False, n_threads=1)
    try:
        pieces = []
        for token in llm.generate(head, temp=0.0, grammar=llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)):
            pieces.append(token)
            text_so_far = llm.detokenize(pieces).decode()
            if "]" in text_so_far or len(pieces) >= 32:
                break
    finally:
        llm.close()
    assert greedy is not None and greedy == text_so_far.rpartition(")")[0].strip()
    sampled = {model.propose(head, Draw(1.5, seed), grammar=grammar, close=DEFAULT_MARKUP.close, max_tokens=32)
               for seed in range(6)}
    sampled.discard(None)
    assert len(sampled) > 1, "draws with other seeds differ"
    assert all(calculator.fn(raw) for raw in sampled), "every closed call is one the calculator reads"
    assert model.propose(head, Draw(), grammar=grammar, close=DEFAULT_MARKUP.close, max_tokens=32) == greedy
    forced = 'root ::= "93 % 17" ")" "]"'
    for draw in (Draw(), Draw(0.8, 3)):  # tokens the model would not pick: the grammar's pass over the vocabulary
        assert model.propose(head, draw, grammar=forced, close="]", max_tokens=32) == "93 % 17"


def test_the_copy_that_samples_is_q8_0_and_goes_where_it_is_asked(tmp_path: Path) -> None:
    base = model_path("smollm2-135m")
    copy = annotating.sampling_model(base, tmp_path / "work")
    assert copy.parent == tmp_path / "work" and copy.stat().st_size > base.stat().st_size, "Q8_0 is larger than Q4_1"
    copied = PrefixModel(copy)
    try:
        tokens = copied.tokenize(TEXT, bos=True)
        copied.eval(tokens)
        assert int(np.argmax(copied.logits_at(len(tokens) - 1))) == int(np.argmax(fresh_logprobs(tokens, len(tokens) - 1)))
    finally:
        copied.close()
