"""A tiny training run on the packaged SmolLM2 (one window, one step per epoch): the
whole pipeline, a resumed second epoch whose loss is lower, quantization, reload and
resolution through the catalog."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import llama_cpp
import numpy as np
import pytest
from gguf import GGUFReader

from agent.errors import ConfigError
from agent.agent import Agent
from agent.models.catalog import list_models, model_path, model_profile, resolve_model
from agent.models.llama_cpu import plain_buffers
from agent.training import (EpochFinished, SamplingConfig, SamplingFinished, StageStarted, TrainConfig,
                            TrainingFinished, UnsupportedModel, train)
from agent.training.fit import Checkpoint
from agent.training.plan import FitPlan
from agent.training import fit
from agent.training.trainer import epoch_order, token_rows
from agent.tools import installed
from agent.training.prompted import question_preamble
from agent.training.worker import decode, encode, run_child

TEXT = "Question: A tray holds 16 cups. How many cups are on 7 trays?\nAnswer: 7 * 16 = 112. The answer is 112."
ANNOTATED = ("Question: A crate holds 24 pears. How many pears are in 9 crates?\n"
             "Answer: 9 * 24 = [Calculator(9 * 24) → 216] 216. The answer is 216.")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[object]]:
    home = tmp_path_factory.mktemp("home")
    config = TrainConfig(name="tiny-tools", texts=(TEXT,), extra_texts=(ANNOTATED,) * 12, epochs=1, max_steps=1,
                         val_split=0.0, sampling=SamplingConfig(per_position=1), home=home)
    return home, list(train(config))


def test_the_pipeline_samples_trains_quantizes_and_registers(trained: tuple[Path, list[object]]) -> None:
    home, events = trained
    sampled = next(e for e in events if isinstance(e, SamplingFinished))
    assert sampled.texts == 1 and sampled.training_texts >= 12 and sampled.kept <= sampled.sampled
    epochs = [e for e in events if isinstance(e, EpochFinished)]
    assert [e.epoch for e in epochs] == [1] and epochs[0].train_loss > 0
    finished = events[-1]
    assert isinstance(finished, TrainingFinished) and finished.name == "tiny-tools"
    record = json.loads((home / "models" / "tiny-tools.json").read_text())
    assert record["base"] == "smollm2-135m" and Path(record["path"]) == Path(finished.path)
    weights = sorted(p.name for p in (home / "training" / "tiny-tools").glob("*.gguf"))
    assert weights == ["epoch-1.gguf"], "the checkpoint replaces the F32 base; the mix with it is removed"
    stages = [e.stage for e in events if isinstance(e, StageStarted)]
    assert stages[stages.index("train"):] == ["train", "mix", "quantize", "register"]


def test_a_resumed_run_continues_from_the_checkpoint_and_the_loss_goes_down(
        trained: tuple[Path, list[object]]) -> None:
    home, events = trained
    first = next(e for e in events if isinstance(e, EpochFinished))
    workdir = home / "training" / "tiny-tools"
    plan = FitPlan(base=model_path("smollm2-135m"), texts=(ANNOTATED,) * 12, workdir=workdir,
                   output=workdir / "resumed.gguf", epochs=2, max_steps=1, val_split=0.0, average=True)
    assert decode(encode(plan)) == plan
    before = tensor(workdir / "epoch-1.gguf", PROBE)
    messages = list(run_child(plan))
    assert messages[0] == {"type": "resumed", "epoch": 1, "step": 1}
    second = next(m for m in messages if m["type"] == "epoch")
    assert second["epoch"] == 2 and second["train_loss"] < first.train_loss
    state = Checkpoint.read(workdir)
    assert state is not None and state.epoch == 2 and Path(state.weights).name == "epoch-2.gguf"
    assert {"type": "stage", "stage": "average", "detail": "the checkpoints of 2 epochs"} in messages
    after = tensor(workdir / "epoch-2.gguf", PROBE)
    assert not np.array_equal(before, after)
    assert np.allclose(tensor(workdir / "averaged-f32.gguf", PROBE), (before + after) / 2, rtol=1e-6, atol=0)
    f32 = (workdir / "epoch-2.gguf").stat().st_size
    assert (workdir / "resumed.gguf").stat().st_size < f32 / 3, "quantized to Q8_0"
    assert sorted(p.name for p in workdir.glob("*.gguf")) == ["averaged-f32.gguf", "epoch-2.gguf", "resumed.gguf"]


PROBE = "blk.0.attn_q.weight"


def tensor(path: Path, name: str) -> np.ndarray:
    return np.array(next(t.data for t in GGUFReader(path).tensors if t.name == name), dtype=np.float64)


def test_the_tuned_model_resolves_through_the_catalog_and_generates(
        trained: tuple[Path, list[object]], monkeypatch: pytest.MonkeyPatch) -> None:
    home, events = trained
    monkeypatch.setenv("INTERLEAF_HOME", str(home))
    path = model_path("tiny-tools")
    assert "tiny-tools" in [m.name for m in list_models()]
    model = resolve_model("tiny-tools")
    assert model.name == "tiny-tools"
    plain_buffers()
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=256, verbose=False, n_threads=1)
    out = llm.create_completion("Question: A box holds 12 eggs. How many eggs are in 5 boxes?\nAnswer:",
                                max_tokens=8, temperature=0.0)
    assert out["choices"][0]["text"].strip()
    llm.close()


def test_the_tuned_model_is_asked_as_its_base_is(
        trained: tuple[Path, list[object]], monkeypatch: pytest.MonkeyPatch) -> None:
    home, _ = trained
    monkeypatch.setenv("INTERLEAF_HOME", str(home))
    assert model_profile("tiny-tools").question == model_profile("smollm2-135m").question
    assert model_profile("smollm2-135m").question.examples > 0
    agent = Agent(model="tiny-tools", tools=[installed("Calculator")], purpose="question")
    try:
        decoding = agent.decoding()
        assert decoding.examples == model_profile("smollm2-135m").question.examples and decoding.grammar
        assert decoding.layout == "question"
        assert "Examples:" in agent.system_prompt() and "Calculator(" in agent.system_prompt()
        preamble = question_preamble([installed("Calculator")], decoding.examples)
        assert agent.system_prompt() + "\n\n" == preamble, "prompted training uses the prompt it is asked with"
    finally:
        agent.close()


def test_an_architecture_llama_cpp_cannot_train_is_refused_clearly(tmp_path: Path) -> None:
    try:
        gemma = model_path("gemma3-270m")
    except ConfigError:
        pytest.skip("gemma3-270m is not installed")
    plan = FitPlan(base=gemma, texts=(ANNOTATED,), workdir=tmp_path, output=tmp_path / "out.gguf")
    with pytest.raises(UnsupportedModel, match="'gemma3'"):
        list(run_child(plan))
    assert not (tmp_path / "base-f32.gguf").exists()
    with pytest.raises(UnsupportedModel, match="'gemma3'"):
        next(iter(train(TrainConfig(base="gemma3-270m", home=tmp_path))))


def test_a_bad_name_is_refused_before_any_work() -> None:
    with pytest.raises(ConfigError, match="model name"):
        next(iter(train(replace(TrainConfig(), name="../evil"))))


@pytest.mark.parametrize("share", [-0.1, 1.0])
def test_a_base_share_outside_zero_to_one_is_refused_before_any_work(share: float) -> None:
    with pytest.raises(ConfigError, match="base's share"):
        next(iter(train(replace(TrainConfig(), base_share=share))))


def test_every_epoch_after_the_first_trains_the_windows_in_another_order_of_its_own() -> None:
    first, second, third = (epoch_order(7, epoch, 40) for epoch in range(3))
    assert first == list(range(40)), "the first epoch trains the windows as packed"
    assert sorted(second) == sorted(third) == first, "every window once an epoch"
    assert len({tuple(first), tuple(second), tuple(third)}) == 3
    assert epoch_order(7, 1, 40) == second, "a run resumed at epoch 2 trains the order it would have"
    assert epoch_order(8, 1, 40) != second


def test_a_text_trained_twice_is_held_out_with_both_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """One token per character, windows of 8: each text fills one window of its own."""
    monkeypatch.setattr(fit, "tokenize", lambda _model, text, bos: [ord(c) for c in text])
    texts = tuple(f"text {i}" for i in range(10))
    plan = FitPlan(base=Path("base.gguf"), texts=texts + texts[:5], workdir=Path("work"), output=Path("out.gguf"),
                   n_ctx=8, stride=8, val_split=0.2)
    rows, n_val = token_rows(plan, None)
    words = ["".join(map(chr, row[:6])) for row in rows]
    train, held = words[: len(words) - n_val], words[len(words) - n_val:]
    assert len(held) == 2 and set(held) & set(texts[:5]), "two of the ten held out, one of them a twice-trained one"
    assert len(train) == 15 - sum(plan.texts.count(text) for text in held) and not set(held) & set(train)
    assert sorted(set(train) | set(held)) == sorted(texts)
