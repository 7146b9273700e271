"""Weight averaging: the mean of several F32 checkpoints of one model, tensor by tensor
(a "model soup", Wortsman et al. 2022).

Fine-tuned from the same weights, the checkpoints of one training's epochs (or models
trained in other orders) lie near each other, and their mean often scores better than
any one of them: in three of four trainings here, by 6 to 20 points on the arithmetic
set, and 5.6 points worse in the fourth (benchmarks/RESULTS.md, runs 35 to 38). Mixed
with the base model's own weights (WiSE-FT, Wortsman et al. 2022), the tuned weights keep
more of what the base could already do. The files are read with `gguf` (llama.cpp's own
GGUF library), memory-mapped: one tensor of each is in memory at a time.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def average(sources: Sequence[Path], target: Path, weights: Sequence[float] | None = None) -> None:
    """Write the element-wise mean of `sources` (F32 GGUF files with the same tensors) as
    `target`, weighted by `weights` (default: equally); its metadata are the first source's."""
    from gguf import GGUFReader, GGMLQuantizationType

    if not sources:
        raise ValueError("nothing to average")
    shares = [1.0] * len(sources) if weights is None else [float(w) for w in weights]
    if len(shares) != len(sources) or min(shares) < 0 or sum(shares) <= 0:
        raise ValueError(f"weights {list(shares)} do not fit {len(sources)} sources")
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(sources[0], partial)
    try:
        soup = GGUFReader(partial, "r+")
        others = [{t.name: t for t in GGUFReader(path).tensors} for path in sources[1:]]
        for tensor in soup.tensors:
            if tensor.tensor_type != GGMLQuantizationType.F32:
                raise ValueError(f"{tensor.name} is {tensor.tensor_type.name}, not F32")
            total = np.array(tensor.data, dtype=np.float64) * shares[0]
            for other, share in zip(others, shares[1:]):
                mate = other.get(tensor.name)
                if mate is None or mate.data.shape != tensor.data.shape:
                    raise ValueError(f"the checkpoints differ at {tensor.name}")
                total += share * mate.data
            tensor.data[...] = total / sum(shares)
        soup.data.flush()
        del soup, others
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
