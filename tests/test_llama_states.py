"""Saved KV states of the embedded backend: prompts that take turns (a long task prompt,
a short planner prompt, the task prompt again) evaluate only what is new, decode exactly
as from scratch, and report honestly what they evaluated."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import llama_cpp
import numpy as np
import pytest

from agent.models import Completion, LlamaModel, Prompt, Request, resolve_model
from agent.models.llama_engine import WORTH
from agent.models.llama_states import SavedState, StateCache, as_tokens, common_prefix

model = pytest.mark.model

TOOLS = "You are a careful assistant. You can call tools: Calculator(expression) computes arithmetic. " * 8
PLANNER = "You are a planner. Reply with JSON only."


def task(text: str) -> Prompt:
    return Prompt(TOOLS, f"Objective: a trip.\n\nYour task: {text}")


def ask(m: LlamaModel, prompt: Prompt, max_tokens: int = 12) -> tuple[str, Completion]:
    completion = Completion()
    return "".join(m.stream(Request(prompt, max_tokens=max_tokens), completion)), completion


def held(m: LlamaModel) -> list[int]:
    llama = m.engine.llama
    return [int(t) for t in llama.input_ids[: llama.n_tokens]]


def logits(m: LlamaModel) -> np.ndarray[Any, Any]:
    llama = m.engine.llama
    return np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),)).copy()


@pytest.fixture(scope="module")
def smol() -> LlamaModel:
    m = resolve_model("smollm2-135m", n_ctx=2048)
    assert isinstance(m, LlamaModel)
    return m


# --- the cache of states, without a model ------------------------------------------------


def fake(tokens: Sequence[int], size: int) -> SavedState:
    return SavedState(as_tokens(tokens), np.zeros(size, dtype=np.uint8))


def test_state_cache_keeps_recent_states_within_its_bytes_and_drops_covered_ones() -> None:
    a, b, c = fake([1, 2, 3, 4], 100), fake([1, 2, 9], 100), fake([7, 8], 100)
    cache = StateCache(capacity=a.nbytes + b.nbytes + 10)
    cache.add(a)
    cache.add(b)
    assert cache.best(as_tokens([1, 2, 3, 5])) == (a, 3)
    assert cache.best(as_tokens([1, 2, 9, 9])) == (b, 3)
    assert cache.best(as_tokens([5])) == (None, 0)
    cache.used(a)
    cache.add(c)  # over the budget: b, the least recently used, goes
    assert cache.states() == [c, a] and cache.nbytes <= cache.capacity and cache.stats.evicted == 1
    longer = fake([1, 2, 3, 4, 5], 100)
    cache.add(longer)  # serves every prompt `a` served
    assert a not in cache.states() and longer in cache.states()
    assert cache.covers(as_tokens([1, 2, 3])) and not cache.covers(as_tokens([1, 2, 4]))
    cache.add(fake([3] * 10, 10_000))  # larger than the whole budget: not kept
    assert len(cache) == 2
    off = StateCache(capacity=0)
    off.add(fake([1], 1))
    assert len(off) == 0 and off.stats.saved == 0
    assert common_prefix(as_tokens([1, 2, 3]), as_tokens([1, 2])) == 2


# --- on the packaged model ----------------------------------------------------------------


@model
def test_a_restored_state_decodes_exactly_as_from_scratch_and_counts_only_what_it_evaluates(
    smol: LlamaModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = smol.engine
    engine.reset()
    first, c1 = ask(smol, task("name a colour."))
    after_first = as_tokens(held(smol))
    ask(smol, Prompt(PLANNER, "Plan: a trip."))
    assert len(engine.states) == 1  # the task's cache, saved before the planner overwrote it
    second = task("name a fruit.")
    tokens = smol.prompt_tokens(second)
    shared = common_prefix(after_first, as_tokens(tokens))
    assert shared > 150
    evaluated: list[int] = []
    real_eval: Callable[[Sequence[int]], None] = engine.llama.eval
    monkeypatch.setattr(engine.llama, "eval", lambda batch: (evaluated.append(len(batch)), real_eval(batch)))
    text, c2 = ask(smol, second)
    monkeypatch.undo()
    assert engine.states.stats.restored == 1
    assert c2.usage.prompt_tokens == len(tokens) and c2.usage.evaluated_tokens == len(tokens) - shared
    assert evaluated[0] == c2.usage.evaluated_tokens and sum(evaluated) == len(held(smol)) - shared
    restored_run = held(smol)
    engine.reset()
    scratch, c3 = ask(smol, second)
    assert c3.usage.evaluated_tokens == c3.usage.prompt_tokens
    assert scratch == text and held(smol) == restored_run
    assert first and c1.usage.evaluated_tokens == c1.usage.prompt_tokens


@model
def test_a_restored_cache_is_bit_for_bit_the_cache_it_was_saved_from(smol: LlamaModel) -> None:
    """The logits after restoring and evaluating the new tokens equal those of the same
    evaluation on the live cache that was never overwritten."""
    engine, llama = smol.engine, smol.engine.llama
    a = smol.prompt_tokens(task("name a colour."))
    b = smol.prompt_tokens(Prompt(PLANNER, "Plan: a meal."))
    c = smol.prompt_tokens(task("name a city."))
    shared = common_prefix(as_tokens(a), as_tokens(c))
    engine.reset()
    llama.eval(a)
    llama.eval(b[engine.rewind(b):])
    assert engine.rewind(c) == shared and engine.states.stats.restored == 1
    llama.eval(c[shared:])
    restored = logits(smol)
    memory = llama_cpp.llama_get_memory(llama.ctx)
    assert llama_cpp.llama_memory_seq_pos_min(memory, 0) == 0
    assert llama_cpp.llama_memory_seq_pos_max(memory, 0) == len(c) - 1
    engine.reset()
    llama.eval(a)
    llama.n_tokens = shared
    llama.eval(c[shared:])
    assert np.array_equal(restored, logits(smol))


@model
def test_conversations_that_take_turns_each_continue_from_their_own_cache(smol: LlamaModel) -> None:
    engine = smol.engine
    engine.reset()
    one, two = task("name a colour."), Prompt(PLANNER, "List three cities as JSON.")
    text_one, _ = ask(smol, one)
    text_two, _ = ask(smol, two)
    engine.states.capacity = engine.states.nbytes + 1000  # room for one state: each restore evicts the other
    splice = " [Calculator(2 + 2) → 4] so"
    _, c1 = ask(smol, one.extend(text_one + splice), max_tokens=4)
    _, c2 = ask(smol, two.extend(text_two + splice), max_tokens=4)
    for completion in (c1, c2):
        assert completion.usage.evaluated_tokens <= smol.count_tokens(splice) + 2
    stats = engine.states.stats
    assert stats.restored == 2 and stats.evicted >= 1 and engine.states.nbytes <= engine.states.capacity
    engine.states.capacity = engine.options.state_bytes
    engine.reset()
    assert len(engine.states) == 0
    _, again = ask(smol, one, max_tokens=1)
    assert again.usage.evaluated_tokens == again.usage.prompt_tokens


@model
def test_with_states_off_or_on_a_sliding_window_model_only_the_live_cache_is_reused() -> None:
    off = resolve_model("smollm2-135m", n_ctx=1024, state_cache_mb=0)
    gemma = resolve_model("gemma3-270m", n_ctx=1024)
    for m in (off, gemma):
        assert isinstance(m, LlamaModel)
        m.engine.reset()
        _, first = ask(m, task("name a colour."), max_tokens=2)
        ask(m, Prompt(PLANNER, "Plan: a trip."), max_tokens=2)
        _, again = ask(m, task("name a fruit."), max_tokens=2)
        assert m.engine.states.capacity == 0 and len(m.engine.states) == 0
        assert again.usage.evaluated_tokens > again.usage.prompt_tokens - WORTH * 2
        assert first.usage.evaluated_tokens == first.usage.prompt_tokens
