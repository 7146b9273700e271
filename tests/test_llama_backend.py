"""The embedded llama.cpp backend on the real packaged models (smollm2-135m for most
tests, gemma3-270m once), plus the stop matcher it streams through."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.errors import ConfigError, ContextOverflow, ModelNotFound
from agent.models import (
    CallTrigger,
    Completion,
    ContextWindowExceeded,
    InvalidGrammar,
    LlamaModel,
    ModelBusy,
    OpenAIModel,
    Prompt,
    Request,
    list_models,
    model_path,
    resolve_model,
)
from agent.models.catalog import gemma3_270m_path, smollm2_135m_path
from agent.models.stops import StopMatcher

model = pytest.mark.model

SYSTEM = "You are a helpful assistant. Answer in plain sentences."
QUESTION = "Out of 1400 participants, 400 passed the test. What fraction passed? Explain briefly."


def run(m: LlamaModel, request: Request) -> tuple[list[str], Completion]:
    completion = Completion()
    return list(m.stream(request, completion)), completion


def text_of(m: LlamaModel, request: Request) -> tuple[str, Completion]:
    chunks, completion = run(m, request)
    return "".join(chunks), completion


def fresh(m: LlamaModel) -> None:
    """Forget the KV cache so the next request evaluates its whole prompt."""
    m.engine.reset()


def assert_cache_is_exact(m: LlamaModel, prompt: Prompt, first_prompt_tokens: int) -> None:
    """The logits after evaluating `prompt` on top of the cache equal, bit for bit, those
    of a fresh replay of the same evaluation schedule (the first prompt as one batch, each
    generated token alone, then the new tokens). Evaluating everything as one batch is
    not a valid reference: llama.cpp's results depend slightly on batch sizes."""
    engine, llama = m.engine, m.engine.llama
    tokens = m.prompt_tokens(prompt)
    reused = engine.rewind(tokens)
    assert first_prompt_tokens <= reused < len(tokens)
    llama.eval(tokens[reused:])
    cached = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),)).copy()
    fresh(m)
    llama.eval(tokens[:first_prompt_tokens])
    for token in tokens[first_prompt_tokens:reused]:
        llama.eval([token])
    llama.eval(tokens[reused:])
    replayed = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),))
    assert np.array_equal(cached, replayed)


@pytest.fixture(scope="module")
def smol() -> LlamaModel:
    m = resolve_model("smollm2-135m", n_ctx=2048)
    assert isinstance(m, LlamaModel)
    return m


# --- the stop matcher -------------------------------------------------------------


@given(
    text=st.text(alphabet="ab]→) ", max_size=40),
    stops=st.lists(st.text(alphabet="ab]→) ", min_size=1, max_size=4), min_size=1, max_size=3),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=10),
)
def test_stop_matcher_never_leaks_and_cuts_at_the_first_stop(
    text: str, stops: list[str], cuts: list[int]
) -> None:
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    matcher = StopMatcher(stops)
    out, hit = "", None
    for a, b in pairwise(bounds):
        emit, hit = matcher.feed(text[a:b])
        out += emit
        if hit is not None:
            break
    if hit is None:
        out += matcher.flush()
    found = [(text.find(s) + len(s), text.find(s)) for s in stops if s in text]
    if not found:
        assert out == text and hit is None
    else:
        end, start = min(found)
        assert hit is not None and out == text[:start] and text[start:end] == hit


def test_stop_matcher_holds_back_a_stop_split_across_chunks() -> None:
    matcher = StopMatcher(["\nUser:"])
    assert matcher.feed("Hello\nUs") == ("Hello", None)
    assert matcher.feed("er: hi") == ("", "\nUser:")


# --- streaming, sampling, stops -----------------------------------------------------


@model
def test_streams_chunks_and_records_usage(smol: LlamaModel) -> None:
    chunks, completion = run(smol, Request(Prompt(SYSTEM, QUESTION), max_tokens=24))
    assert len(chunks) > 3 and "".join(chunks).strip()
    usage = completion.usage
    assert usage.requests == 1 and usage.prompt_tokens > 20
    assert 0 < usage.evaluated_tokens <= usage.prompt_tokens
    assert completion.finish_reason in ("length", "end")
    if completion.finish_reason == "length":
        assert usage.completion_tokens == 24


@model
def test_max_tokens_ends_with_length(smol: LlamaModel) -> None:
    _, completion = run(smol, Request(Prompt(SYSTEM, QUESTION), max_tokens=5))
    assert completion.finish_reason == "length" and completion.usage.completion_tokens == 5


@model
def test_greedy_is_deterministic_and_seeds_repeat(smol: LlamaModel) -> None:
    greedy = Request(Prompt(SYSTEM, "Name three colours."), max_tokens=16)
    assert text_of(smol, greedy)[0] == text_of(smol, greedy)[0]
    sampled = Request(Prompt(SYSTEM, "Tell me a word."), max_tokens=12, temperature=1.5, seed=7)
    assert text_of(smol, sampled)[0] == text_of(smol, sampled)[0]
    seeds = {text_of(smol, Request(sampled.prompt, max_tokens=12, temperature=1.5, seed=s))[0] for s in range(4)}
    assert len(seeds) > 1


@model
def test_stop_sequence_spanning_tokens_never_leaks(smol: LlamaModel) -> None:
    request = Request(Prompt(SYSTEM, QUESTION), max_tokens=48)
    reference, _ = text_of(smol, request)
    start = len(reference) // 2
    stop = reference[start : start + 9]
    assert smol.count_tokens(stop) > 1
    cut = reference.find(stop)
    chunks, completion = run(smol, Request(request.prompt, stop=("never-there", stop), max_tokens=48))
    assert "".join(chunks) == reference[:cut]
    assert not any(stop in c for c in chunks)
    assert completion.finish_reason == "stop" and completion.stop_sequence == stop


@model
def test_multibyte_text_streams_as_clean_utf8(smol: LlamaModel) -> None:
    wanted = "Größe: 日本語 ☃ 🎉 naïve"
    grammar = "root ::= " + json.dumps(wanted, ensure_ascii=False)
    chunks, completion = run(smol, Request(Prompt(SYSTEM, "Say something."), grammar=grammar, max_tokens=64))
    assert "".join(chunks) == wanted and "\ufffd" not in "".join(chunks)
    assert completion.finish_reason == "end"


# --- constraints ------------------------------------------------------------------------


@model
def test_grammar_constrains_the_continuation(smol: LlamaModel) -> None:
    grammar = 'root ::= ("yes" | "no") "."'
    for question in ("Is the sky blue?", "Is fire cold?"):
        text, completion = text_of(smol, Request(Prompt(SYSTEM, question), grammar=grammar, max_tokens=8))
        assert text in ("yes.", "no.") and completion.finish_reason == "end"
    digits, _ = text_of(smol, Request(Prompt(SYSTEM, QUESTION), grammar="root ::= [0-9]{1,3}", max_tokens=8))
    assert digits.isdigit() and len(digits) <= 3


@model
def test_response_schema_gives_matching_json(smol: LlamaModel) -> None:
    schema = {"type": "object", "properties": {"passed": {"type": "integer"}}, "required": ["passed"]}
    request = Request(Prompt(SYSTEM, QUESTION), response_schema=schema, max_tokens=40)
    text, _ = text_of(smol, request)
    assert isinstance(json.loads(text)["passed"], int)


@model
def test_invalid_grammar_is_a_clear_config_error(smol: LlamaModel) -> None:
    with pytest.raises(InvalidGrammar) as raised:
        text_of(smol, Request(Prompt(SYSTEM, QUESTION), grammar="root ::= undefined_rule"))
    assert isinstance(raised.value, ConfigError) and "GBNF" in str(raised.value)


@model
def test_trigger_disabled_and_forced_change_what_is_generated(smol: LlamaModel) -> None:
    prompt = Prompt(SYSTEM, "Write a Python list of three numbers.", "my_list =")
    plain, _ = text_of(smol, Request(prompt, max_tokens=12))
    assert "[" in plain
    banned, _ = text_of(smol, Request(prompt, max_tokens=12, trigger=CallTrigger("[", disabled=True)))
    assert "[" not in banned and banned != plain
    question = Prompt(SYSTEM, "What is the capital of France?")
    answer, _ = text_of(smol, Request(question, max_tokens=8))
    k = smol.engine.vocab.size
    forced, _ = text_of(smol, Request(question, max_tokens=8, trigger=CallTrigger("[", k=k)))
    assert "[" not in answer and forced.lstrip().startswith("[")
    off, _ = text_of(smol, Request(question, max_tokens=8, trigger=CallTrigger("[", k=0)))
    assert off == answer


# --- the KV cache -------------------------------------------------------------------------


@model
def test_continuation_evaluates_only_the_new_tokens(smol: LlamaModel) -> None:
    fresh(smol)
    first = Request(Prompt(SYSTEM, QUESTION), max_tokens=30)
    text, c1 = text_of(smol, first)
    assert c1.usage.evaluated_tokens == c1.usage.prompt_tokens
    splice = " [Calculator(400 / 1400) → 0.29] So"
    second = Request(first.prompt.extend(text + splice), max_tokens=20)
    continued, c2 = text_of(smol, second)
    new_tokens = smol.count_tokens(splice)
    assert c2.usage.evaluated_tokens <= new_tokens + 2
    assert c2.usage.prompt_tokens >= c1.usage.prompt_tokens + c1.usage.completion_tokens
    again, c3 = text_of(smol, second)
    assert c3.usage.evaluated_tokens == 1 and again == continued
    fresh(smol)
    text_of(smol, first)
    assert_cache_is_exact(smol, second.prompt, c1.usage.prompt_tokens)
    fresh(smol)
    _, c4 = text_of(smol, second)
    assert c4.usage.evaluated_tokens == c4.usage.prompt_tokens


@model
def test_the_token_generated_last_is_counted_once(smol: LlamaModel) -> None:
    """The last token of a completion is sampled but not evaluated; the next request
    evaluates it, and it counts there as already counted (a generated token)."""
    fresh(smol)
    first = Request(Prompt(SYSTEM, QUESTION), max_tokens=12)
    text, c1 = text_of(smol, first)
    assert c1.finish_reason == "length" and c1.usage.completion_tokens == 12
    assert smol.engine.llama.n_tokens == c1.usage.prompt_tokens + 11
    _, c2 = text_of(smol, Request(first.prompt.extend(text), max_tokens=4))
    assert c2.usage.evaluated_tokens == 0
    assert smol.engine.llama.n_tokens >= c1.usage.prompt_tokens + 12


@model
def test_closing_early_leaves_the_cache_consistent(smol: LlamaModel) -> None:
    fresh(smol)
    prompt = Prompt(SYSTEM, QUESTION)
    completion = Completion()
    stream = smol.stream(Request(prompt, max_tokens=40), completion)
    head = "".join(next(stream) for _ in range(6))
    stream.close()
    assert completion.usage.completion_tokens >= 6 and completion.finish_reason is None
    follow = prompt.extend(head + " → 0.29]")
    _, c1 = text_of(smol, Request(follow, max_tokens=1))
    assert c1.usage.evaluated_tokens < c1.usage.prompt_tokens // 2
    fresh(smol)
    stream = smol.stream(Request(prompt, max_tokens=40), completion := Completion())
    "".join(next(stream) for _ in range(6))
    stream.close()
    assert_cache_is_exact(smol, follow, completion.usage.prompt_tokens)


@model
def test_a_second_open_stream_in_one_thread_is_refused(smol: LlamaModel) -> None:
    request = Request(Prompt(SYSTEM, QUESTION), max_tokens=8)
    first = smol.stream(request, Completion())
    next(first)
    with pytest.raises(ModelBusy):
        text_of(smol, request)
    first.close()
    assert text_of(smol, request)[0]


# --- context window ---------------------------------------------------------------------


@model
def test_context_overflow_is_a_clear_error_and_a_full_window_stops_with_length() -> None:
    small = resolve_model("smollm2-135m", n_ctx=64)
    assert isinstance(small, LlamaModel)
    long = Prompt(SYSTEM, "Please repeat: " + "apples and oranges, " * 40)
    with pytest.raises(ContextWindowExceeded) as raised:
        text_of(small, Request(long))
    assert isinstance(raised.value, ContextOverflow)
    assert "n_ctx" in str(raised.value) and raised.value.window == 64 and raised.value.needed > 64
    short = Request(Prompt("", "Count to one hundred."), max_tokens=500)
    _, completion = text_of(small, short)
    assert completion.finish_reason in ("length", "end")
    assert completion.usage.prompt_tokens + completion.usage.completion_tokens <= 64


# --- loading and specs ------------------------------------------------------------------


@model
def test_a_loaded_model_is_reused_across_instances(smol: LlamaModel) -> None:
    again = resolve_model("SmolLM2-135M", n_ctx=2048)
    assert isinstance(again, LlamaModel) and again is not smol
    assert again.engine is smol.engine and again.engine.llama is smol.engine.llama
    by_path = LlamaModel(smol.path, n_ctx=2048)
    assert by_path.engine is smol.engine
    other = LlamaModel(smol.path, n_ctx=1024)
    assert other.engine is not smol.engine


def test_specs_resolve_names_paths_and_openai(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert {m.name for m in list_models()} == {"gemma3-270m", "smollm2-135m"}
    smol = resolve_model("smollm2-135m")
    assert isinstance(smol, LlamaModel) and smol.name == "smollm2-135m"
    assert smol.path == smollm2_135m_path() == model_path("smollm2-135m")
    by_path = resolve_model(str(smol.path), n_ctx=512)
    assert isinstance(by_path, LlamaModel) and by_path.n_ctx == 512
    assert resolve_model(smol) is smol
    monkeypatch.setenv("INTERLEAF_MODEL", "smollm2-135m")
    assert resolve_model().name == "smollm2-135m"
    local = resolve_model("openai:tiny@http://127.0.0.1:9/v1", mode="completions")
    assert isinstance(local, OpenAIModel) and local.model == "tiny" and local.mode == "completions"
    assert str(local.client.base_url).startswith("http://127.0.0.1:9/v1")
    for unknown in ("no-such-model", str(tmp_path / "missing.gguf"), "openai:"):
        with pytest.raises(ModelNotFound) as raised:
            resolve_model(unknown)
        assert "smollm2-135m" in str(raised.value)
    with pytest.raises(ConfigError):
        resolve_model(smol, n_ctx=4)


@model
def test_gemma_is_assembled_once_and_continues_from_its_cache() -> None:
    path = gemma3_270m_path()
    stamp = path.stat().st_mtime_ns
    assert gemma3_270m_path() == path and path.stat().st_mtime_ns == stamp
    gemma = resolve_model("gemma3-270m", n_ctx=1024)
    assert isinstance(gemma, LlamaModel) and gemma.path == path
    assert gemma.render(Prompt("Be brief.", "Hi there", "Hello")) == "Be brief.\n\nQuestion: Hi there\nAnswer:Hello"
    chat = resolve_model("gemma3-270m", n_ctx=1024, chat_template=None)
    rendered = chat.render(Prompt("Be brief.", "Hi there", "Hello"))
    assert rendered.startswith("<bos><start_of_turn>user\nBe brief.\n\nHi there<end_of_turn>")
    assert rendered.endswith("<start_of_turn>model\nHello") and "system" not in rendered
    fresh(gemma)
    first = Request(Prompt("Be brief.", "List three fruits."), max_tokens=16)
    text, c1 = text_of(gemma, first)
    assert text and c1.usage.completion_tokens > 0
    second = first.prompt.extend(text + " [Count(3) → 3] and")
    _, c2 = text_of(gemma, Request(second, max_tokens=12))
    assert c2.usage.evaluated_tokens <= gemma.count_tokens(" [Count(3) → 3] and") + 2
    fresh(gemma)
    text_of(gemma, first)
    assert_cache_is_exact(gemma, second, c1.usage.prompt_tokens)
