"""On a CPU with AMX the weights stay in plain buffers (llama.cpp's AMX matrix product
crashes some of these machines); elsewhere llama.cpp's defaults are left alone."""

from __future__ import annotations

from pathlib import Path

import llama_cpp

from agent.models.llama_cpu import has_amx, plain_buffers


def cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / f"cpuinfo-{len(flags)}"
    path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    return path


def test_amx_is_read_from_the_cpu_flags(tmp_path: Path) -> None:
    assert has_amx(cpuinfo(tmp_path, "fpu sse avx2 avx512f amx_bf16 amx_tile amx_int8"))
    assert not has_amx(cpuinfo(tmp_path, "fpu sse avx2 avx512f avx512_vnni"))
    assert not has_amx(tmp_path / "missing")


def test_the_default_model_parameters_follow_the_machine() -> None:
    changed = plain_buffers()
    assert changed == has_amx()
    params = llama_cpp.llama_model_default_params()
    assert params.use_extra_bufts is (not changed)
    assert plain_buffers() == changed, "a second call changes nothing more"
