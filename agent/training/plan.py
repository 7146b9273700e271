"""What the training child is asked to do: plain data, picklable, no native state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FitPlan:
    base: Path
    """The GGUF file to start from (any type: it is converted to F32 first)."""
    texts: tuple[str, ...]
    """The training documents, each starting at a line start."""
    workdir: Path
    """Where the F32 weights, the per-epoch checkpoints and the result go."""
    output: Path
    """The tuned model, quantized to `ftype`."""
    ftype: str = "q8_0"
    epochs: int = 2
    lr: float = 1e-4
    lr_min: float = 1e-5
    val_split: float = 0.05
    n_ctx: int = 256
    """Tokens per training window; llama.cpp pads contexts to a multiple of 256."""
    stride: int = 256
    """Tokens between the starts of two windows (at least; windows start at documents)."""
    threads: int = 1
    last_blocks: int = 0
    """Train only the last N transformer blocks (0: every block)."""
    average: bool = False
    """Quantize the mean of every epoch's checkpoint rather than the last one
    (`agent.training.soup`)."""
    base_share: float = 0.0
    """The base model's share in the quantized weights: (1 - s) * tuned + s * base."""
    max_steps: int = 0
    """Stop each epoch after this many optimizer steps (0: the whole epoch); for tests."""
    seed: int = 0
