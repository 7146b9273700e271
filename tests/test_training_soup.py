"""Weight averaging of F32 GGUF checkpoints (`agent.training.soup`), on small files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader, GGUFWriter

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
