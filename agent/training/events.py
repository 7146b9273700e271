"""What a training run reports, as typed events: `agent.training.train()` yields them,
the CLI renders them, `--json` prints them one per line."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Stage = Literal["corpus", "sample", "convert", "load", "train", "average", "mix", "quantize", "register"]


@dataclass(frozen=True)
class StageStarted:
    stage: Stage
    detail: str = ""


@dataclass(frozen=True)
class Progress:
    """A step of a long stage: a text sampled, or an optimizer step taken."""

    stage: Stage
    step: int
    steps: int
    loss: float | None = None
    """Training: the epoch's mean loss so far."""
    tokens_per_s: float | None = None
    seconds_left: float | None = None
    kept: int | None = None
    """Sampling: calls the filter kept so far."""
    epoch: int | None = None


@dataclass(frozen=True)
class EpochFinished:
    epoch: int
    train_loss: float
    val_loss: float | None
    checkpoint: str


@dataclass(frozen=True)
class SamplingFinished:
    texts: int
    """Texts annotated."""
    positions: int
    """Positions where the open marker was in the model's top k."""
    sampled: int
    """Distinct calls sampled and executed."""
    kept: int
    """Calls the loss filter kept."""
    training_texts: int
    """Texts with at least one kept call (plus any pairs from saved runs)."""
    tokens: int
    too_long: int = 0
    """Texts left without calls because they and the sampling prompt do not fit the
    model's context."""


@dataclass(frozen=True)
class TrainingFinished:
    name: str
    path: str
    seconds: float
    epochs: list[dict[str, Any]]


TrainEvent = StageStarted | Progress | EpochFinished | SamplingFinished | TrainingFinished


def to_json(event: TrainEvent) -> dict[str, Any]:
    return {"type": type(event).__name__, **asdict(event)}
