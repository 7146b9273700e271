"""Weight averaging of F32 GGUF checkpoints (`agent.training.soup`), on small files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader, GGUFWriter

from agent.training import fit, trainer
from agent.training.plan import FitPlan
from agent.training.soup import average


def checkpoint(path: Path, tensors: dict[str, np.ndarray]) -> Path:
    writer = GGUFWriter(path, "llama")
    writer.add_name("tiny")
    for name, data in tensors.items():
        writer.add_tensor(name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def read(path: Path) -> dict[str, np.ndarray]:
    return {t.name: np.array(t.data) for t in GGUFReader(path).tensors}


def test_the_average_is_the_mean_of_every_tensor_and_keeps_the_first_files_metadata(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sources = [checkpoint(tmp_path / f"epoch-{i}.gguf", {"a": rng.standard_normal((4, 8), dtype=np.float32),
                                                           "b": rng.standard_normal(8, dtype=np.float32)})
               for i in (1, 2, 3)]
    average(sources, tmp_path / "soup.gguf")
    out, inputs = read(tmp_path / "soup.gguf"), [read(p) for p in sources]
    for name in ("a", "b"):
        assert np.allclose(out[name], sum(i[name].astype(np.float64) for i in inputs) / 3, atol=1e-7)
    assert GGUFReader(tmp_path / "soup.gguf").fields["general.name"].contents() == "tiny"
    assert not (tmp_path / "soup.gguf.partial").exists()


def test_checkpoints_of_other_shapes_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    one = checkpoint(tmp_path / "one.gguf", {"a": np.zeros((4, 8), dtype=np.float32)})
    other = checkpoint(tmp_path / "other.gguf", {"a": np.zeros((8, 4), dtype=np.float32)})
    with pytest.raises(ValueError, match="differ at a"):
        average([one, other], tmp_path / "soup.gguf")
    assert not list(tmp_path.glob("soup.gguf*"))


def test_quantized_checkpoints_are_refused(tmp_path: Path) -> None:
    half = checkpoint(tmp_path / "half.gguf", {"a": np.zeros((4, 8), dtype=np.float16)})
    with pytest.raises(ValueError, match="not F32"):
        average([half, half], tmp_path / "soup.gguf")


def test_a_weighted_average_mixes_in_proportion_and_bad_weights_are_refused(tmp_path: Path) -> None:
    tuned = checkpoint(tmp_path / "tuned.gguf", {"a": np.full((2, 3), 4.0, dtype=np.float32)})
    base = checkpoint(tmp_path / "base.gguf", {"a": np.full((2, 3), 1.0, dtype=np.float32)})
    average([tuned, base], tmp_path / "mix.gguf", weights=[0.75, 0.25])
    assert np.allclose(read(tmp_path / "mix.gguf")["a"], 3.25)
    for bad in ([1.0], [1.0, -0.5], [0.0, 0.0]):
        with pytest.raises(ValueError, match="do not fit"):
            average([tuned, base], tmp_path / "bad.gguf", weights=bad)
    assert not list(tmp_path.glob("bad.gguf*"))


@pytest.mark.parametrize(("average", "share", "expected"), [(True, 0.5, 2.5), (True, 0.0, 4.0), (False, 0.25, 4.0)])
def test_the_quantized_weights_are_the_epochs_mean_mixed_with_the_base(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, average: bool, share: float, expected: float) -> None:
    """Epochs at 3 and 5 (mean 4), the base at 1: the mean and the base half and half is
    2.5; the last epoch alone (5) with a quarter of the base is 4."""
    conversions: list[tuple[str, str]] = []

    def copy(source: Path, target: Path, ftype: str, *, threads: int = 1) -> None:
        conversions.append((source.name, ftype))
        shutil.copyfile(source, target)

    monkeypatch.setattr(fit, "quantize", copy)
    base = checkpoint(tmp_path / "packaged.gguf", {"a": np.full(4, 1.0, dtype=np.float32)})
    work = tmp_path / "work"
    work.mkdir()
    for epoch, value in ((1, 3.0), (2, 5.0)):
        checkpoint(work / trainer.EPOCH.format(epoch), {"a": np.full(4, value, dtype=np.float32)})
    fit.Checkpoint(2, 8, str(work / trainer.EPOCH.format(2)), 0.5, None).write(work)
    plan = FitPlan(base=base, texts=(), workdir=work, output=tmp_path / "tuned.gguf", average=average,
                   base_share=share)
    stages: list[str] = []
    trainer.finish(plan, lambda event: stages.append(event.get("stage", "")))
    assert np.allclose(read(plan.output)["a"], expected)
    assert ("mix" in stages) == (share > 0) and ("average" in stages) == average
    assert conversions[-1] == (trainer.MIXED if share else trainer.AVERAGED if average else "epoch-2.gguf", "q8_0")
    assert not (work / trainer.MIXED).exists() and not (work / trainer.BASE_F32).exists()
