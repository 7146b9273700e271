"""ctypes declarations for llama.cpp's training API, as vendored by llama-cpp-python 0.3.36.

The structures are copied from that version's `llama.h` and `ggml-opt.h`. The binding's
own `llama_opt_params` lacks its last field (the optimizer type), so the training
functions are declared here on separate library handles: setting `argtypes` on the
binding's handle would change the binding's own functions. The dataset and result
functions live in `libggml-base.so`, next to `libllama.so` in the llama_cpp package.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

import llama_cpp

GGML_TYPE_F32 = 0
GGML_TYPE_I32 = 26
GGML_OPT_OPTIMIZER_TYPE_ADAMW = 0

LLAMA_FTYPE_ALL_F32 = 0
FTYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q8_0": 7, "q4_k_m": 15, "q5_k_m": 17, "q6_k": 18}
"""llama_ftype values by name, for quantizing the tuned model back."""


class AdamW(ctypes.Structure):
    _fields_ = [("alpha", ctypes.c_float), ("beta1", ctypes.c_float), ("beta2", ctypes.c_float),
                ("eps", ctypes.c_float), ("wd", ctypes.c_float)]


class SGD(ctypes.Structure):
    _fields_ = [("alpha", ctypes.c_float), ("wd", ctypes.c_float)]


class OptimizerParams(ctypes.Structure):
    """struct ggml_opt_optimizer_params."""

    _fields_ = [("adamw", AdamW), ("sgd", SGD)]


ParamFilter = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p)
"""llama_opt_param_filter: (const struct ggml_tensor *, void * userdata) -> bool."""

EpochCallback = ctypes.CFUNCTYPE(None, ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                 ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)
"""ggml_opt_epoch_callback: (train, opt_ctx, dataset, result, ibatch, ibatch_max, t_start_us)."""


class OptParams(ctypes.Structure):
    """struct llama_opt_params, all six fields."""

    _fields_ = [
        ("n_ctx_train", ctypes.c_uint32),
        ("param_filter", ctypes.c_void_p),
        ("param_filter_ud", ctypes.c_void_p),
        ("get_opt_pars", ctypes.c_void_p),
        ("get_opt_pars_ud", ctypes.c_void_p),
        ("optimizer_type", ctypes.c_int),
    ]


def library_dir() -> Path:
    return Path(llama_cpp.__file__).parent / "lib"


def _declare(lib: ctypes.CDLL, name: str, argtypes: list[type], restype: type | None) -> None:
    fn = getattr(lib, name)
    fn.argtypes = argtypes
    fn.restype = restype


@dataclass(frozen=True)
class Libraries:
    llama: ctypes.CDLL
    ggml: ctypes.CDLL


def load() -> Libraries:
    """Fresh handles on libllama and libggml-base with the training functions declared."""
    llama = ctypes.CDLL(str(library_dir() / "libllama.so"))
    ggml = ctypes.CDLL(str(library_dir() / "libggml-base.so"))
    p, i64 = ctypes.c_void_p, ctypes.c_int64
    _declare(llama, "llama_opt_init", [p, p, OptParams], None)
    _declare(llama, "llama_opt_epoch", [p, p, p, p, i64, p, p], None)
    _declare(ggml, "ggml_opt_dataset_init", [ctypes.c_int, ctypes.c_int, i64, i64, i64, i64], p)
    _declare(ggml, "ggml_opt_dataset_free", [p], None)
    _declare(ggml, "ggml_opt_dataset_data", [p], p)
    _declare(ggml, "ggml_opt_dataset_labels", [p], p)
    _declare(ggml, "ggml_opt_dataset_ndata", [p], i64)
    _declare(ggml, "ggml_get_data", [p], p)
    _declare(ggml, "ggml_get_name", [p], ctypes.c_char_p)
    _declare(ggml, "ggml_opt_result_init", [], p)
    _declare(ggml, "ggml_opt_result_free", [p], None)
    _declare(ggml, "ggml_opt_result_reset", [p], None)
    _declare(ggml, "ggml_opt_result_loss", [p, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double)],
             None)
    _declare(ggml, "ggml_opt_result_ndata", [p, ctypes.POINTER(i64)], None)
    return Libraries(llama, ggml)


def constant_params_fn(libs: Libraries) -> int:
    """Address of `ggml_opt_get_constant_optimizer_params`: returns *userdata by value (a
    Python callback cannot return a structure by value)."""
    address = ctypes.cast(libs.ggml.ggml_opt_get_constant_optimizer_params, ctypes.c_void_p).value
    assert address is not None
    return address


def result_loss(libs: Libraries, result: int) -> tuple[float, int]:
    """(mean loss, datapoints) accumulated in a ggml_opt_result."""
    loss, unc, n = ctypes.c_double(), ctypes.c_double(), ctypes.c_int64()
    libs.ggml.ggml_opt_result_loss(result, ctypes.byref(loss), ctypes.byref(unc))
    libs.ggml.ggml_opt_result_ndata(result, ctypes.byref(n))
    return float(loss.value), int(n.value)
