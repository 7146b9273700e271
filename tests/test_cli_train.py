"""`agent train`: its options become a TrainConfig, and its view renders each stage."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from agent.cli.parser import parse
from agent.cli.train import TrainView, config
from agent.training import (EpochFinished, Progress, SamplingFinished, StageStarted, TrainConfig, TrainingFinished,
                            to_json)


def render(view: TrainView) -> str:
    console = Console(file=io.StringIO(), width=120)
    console.print(view.render())
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(text, str)
    return text


def test_options_become_the_config(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("We sold 12 crates.\n\nThen 30 more.")
    args = parse(["train", "--name", "mine", "--files", str(tmp_path), "--epochs", "2", "--top-k", "10",
                  "--tau", "1.0", "--base-share", "0.25", "--rare-operation-repeats", "3", "--home", str(tmp_path)])
    made = config(args)
    assert made.name == "mine" and made.epochs == 2 and made.home == tmp_path and made.base_share == 0.25
    assert made.texts == ("We sold 12 crates.", "Then 30 more.") and made.rare_operation_repeats == 3
    assert made.sampling.top_k == 10 and made.sampling.tau == 1.0 and made.lr_end == made.lr / 10


def test_no_options_train_the_recipe_the_benchmark_measures() -> None:
    """benchmarks/train.py measures `TrainConfig()`; `agent train` keeps its defaults in its
    parser (the CLI starts without importing the training code), so they must agree."""
    assert config(parse(["train"])) == TrainConfig()


def test_the_view_shows_stage_step_loss_speed_and_time_left() -> None:
    view = TrainView()
    view.handle(StageStarted("sample", "120 texts"))
    view.handle(Progress("sample", 3, 120, kept=2, seconds_left=300))
    assert "sample: 120 texts" in render(view) and "step 3/120" in render(view) and "5.0 min left" in render(view)
    view.handle(SamplingFinished(120, 200, 380, 90, 80, 6000))
    view.handle(StageStarted("train", "epoch 1/3"))
    view.handle(Progress("train", 7, 90, loss=1.234, tokens_per_s=41.0, seconds_left=120, epoch=1))
    shown = render(view)
    assert "the filter kept 90" in shown and "loss 1.234" in shown and "41 tokens/s" in shown
    view.handle(EpochFinished(1, 1.1, 1.3, "/x/epoch-1.gguf"))
    view.handle(TrainingFinished("smollm2-135m-tools", "/x/m.gguf", 600.0, []))
    shown = render(view)
    assert "epoch 1: loss 1.100, validation 1.300" in shown and "--model smollm2-135m-tools" in shown


def test_json_events_name_their_type() -> None:
    assert to_json(EpochFinished(2, 0.5, None, "c")) == {
        "type": "EpochFinished", "epoch": 2, "train_loss": 0.5, "val_loss": None, "checkpoint": "c"}
