"""llama.cpp's weights in plain CPU buffers on CPUs with AMX.

On a CPU with AMX (Intel Sapphire Rapids and later) a llama.cpp build made for the machine
moves quantized weights into an AMX buffer, and its AMX matrix product crashes the process
at the first decode on some of these machines (a segmentation fault in
`ggml_backend_amx_mul_mat`, ggml-org/llama.cpp#20824). On such a CPU every model this
process loads keeps its weights in the plain CPU buffers instead: `plain_buffers()` makes
llama.cpp's default model parameters say so, for `llama_cpp.Llama` and the low-level API
alike. Elsewhere it changes nothing, so the other repacked layouts stay in use.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

AMX_FLAGS = ("amx_int8", "amx_tile", "amx_bf16")


@cache
def has_amx(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU reports an AMX feature."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return any(flag in flags for flag in AMX_FLAGS)


@cache
def plain_buffers() -> bool:
    """On a CPU with AMX, make every later model load in this process keep its weights
    in plain buffers; returns whether it did. Safe to call any number of times."""
    if not has_amx():
        return False
    import llama_cpp
    import llama_cpp.llama_cpp as low

    defaults = low.llama_model_default_params

    def plain_defaults() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    low.llama_model_default_params = plain_defaults
    llama_cpp.llama_model_default_params = plain_defaults
    return True
