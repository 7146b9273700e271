"""Full fine-tuning of a GGUF model in process with llama.cpp's training API.

The sequence of llama.cpp's `examples/training/finetune.cpp`: float weights (the packaged
quantized file converted with `llama_model_quantize`), loaded without mmap; a context whose
`n_batch == n_ubatch == n_ctx` (a multiple of 256); a dataset of `n_ctx`-token windows with
labels shifted by one; `llama_opt_init` with AdamW, whose learning rate is changed from
the progress callback; `llama_opt_epoch` over a train/validation split, once per epoch,
with a checkpoint after each; then quantization back to the packaged format.

Everything here runs in the training child process (`agent.training.worker`).
"""

from __future__ import annotations

import ctypes
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp

from agent.models.llama_cpu import plain_buffers
from agent.training import native, prefix
from agent.training.plan import FitPlan

TRAINABLE_ARCHITECTURES = frozenset({"llama"})
"""Architectures whose training through llama.cpp 0.3.36 has been verified (SmolLM2 is
`llama`); others are refused before anything is converted."""

LLAMA_LOAD_MODE_NONE = 0
"""enum llama_load_mode: read the weights into memory (no mmap)."""

Emit = Callable[[dict[str, Any]], None]


class UnsupportedArchitecture(Exception):
    def __init__(self, architecture: str) -> None:
        super().__init__(
            f"cannot train this model: its architecture is {architecture!r}, and training through llama.cpp "
            f"is supported here for {', '.join(sorted(TRAINABLE_ARCHITECTURES))} only")
        self.architecture = architecture


def quantize(source: Path, target: Path, ftype: str, *, threads: int = 1) -> None:
    """Write `source` as `target` with every tensor in `ftype` (f32 to dequantize)."""
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = threads
    params.ftype = native.FTYPES[ftype]
    params.allow_requantize = True
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), ctypes.byref(params))
    if status != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"llama_model_quantize failed ({status}) writing {target}")
    partial.replace(target)


def architecture(model: Any) -> str:
    buf = ctypes.create_string_buffer(128)
    n = llama_cpp.llama_model_meta_val_str(model, b"general.architecture", buf, len(buf))
    return buf.value.decode() if n > 0 else "unknown"


def check_architecture(path: Path) -> str:
    """The architecture of the GGUF at `path` (read with the vocabulary only); raises
    `UnsupportedArchitecture` for one that cannot be trained."""
    from llama_cpp._utils import suppress_stdout_stderr

    plain_buffers()
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    with suppress_stdout_stderr(disable=False):  # llama.cpp's load notes stay off the caller's terminal
        model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise RuntimeError(f"cannot read {path}")
    try:
        found = architecture(model)
    finally:
        llama_cpp.llama_model_free(model)
    if found not in TRAINABLE_ARCHITECTURES:
        raise UnsupportedArchitecture(found)
    return found


def load_model(path: Path) -> Any:
    plain_buffers()
    params = llama_cpp.llama_model_default_params()
    params.load_mode = LLAMA_LOAD_MODE_NONE  # a memory-mapped model segfaults in the AdamW step
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise RuntimeError(f"cannot load {path}")
    return model


def new_context(model: Any, n_ctx: int, threads: int) -> Any:
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = params.n_batch = params.n_ubatch = n_ctx
    params.n_threads = params.n_threads_batch = threads
    params.type_k = params.type_v = native.GGML_TYPE_F32
    ctx = llama_cpp.llama_init_from_model(model, params)
    if not ctx:
        raise RuntimeError("cannot create a llama.cpp context for training")
    return ctx


def tokenize(model: Any, text: str, *, bos: bool) -> list[int]:
    return prefix.tokenize(llama_cpp.llama_model_get_vocab(model), text, bos=bos)


def windows(docs: Sequence[list[int]], n_ctx: int, stride: int) -> list[list[int]]:
    """`n_ctx + 1`-token windows over the documents laid end to end, each starting at a
    document's start (a line start), starts at least `stride` tokens apart; the stream
    wraps around so the last windows are full too."""
    stream = [t for doc in docs for t in doc]
    if not stream:
        return []
    starts, offset, last = [], 0, -stride
    for doc in docs:
        if offset - last >= stride:
            starts.append(offset)
            last = offset
        offset += len(doc)
    while len(stream) < starts[-1] + n_ctx + 1:
        stream += stream[: starts[-1] + n_ctx + 1 - len(stream)]
    return [stream[s : s + n_ctx + 1] for s in starts]


def dataset(libs: native.Libraries, rows: Sequence[list[int]], n_ctx: int) -> int:
    """A ggml dataset of `len(rows)` windows, holding `rows` (inputs and next-token labels)."""
    handle = int(libs.ggml.ggml_opt_dataset_init(native.GGML_TYPE_I32, native.GGML_TYPE_I32, n_ctx, n_ctx,
                                                 len(rows), 1))
    fill(libs, handle, rows, n_ctx)
    return handle


def fill(libs: native.Libraries, handle: int, rows: Sequence[list[int]], n_ctx: int) -> None:
    """Write `rows` into the dataset, in this order, from its first row on."""
    data = libs.ggml.ggml_get_data(libs.ggml.ggml_opt_dataset_data(handle))
    labels = libs.ggml.ggml_get_data(libs.ggml.ggml_opt_dataset_labels(handle))
    item = ctypes.sizeof(ctypes.c_int32) * n_ctx
    for i, row in enumerate(rows):
        ctypes.memmove(data + i * item, (ctypes.c_int32 * n_ctx)(*row[:n_ctx]), item)
        ctypes.memmove(labels + i * item, (ctypes.c_int32 * n_ctx)(*row[1 : n_ctx + 1]), item)


def learning_rate(plan: FitPlan, step: int, total: int) -> float:
    """Cosine decay from `plan.lr` to `plan.lr_min` over the run."""
    progress = min(1.0, step / max(1, total))
    return plan.lr_min + 0.5 * (plan.lr - plan.lr_min) * (1.0 + math.cos(math.pi * progress))


def tensor_filter(libs: native.Libraries, last_blocks: int, n_blocks: int) -> Any:
    """A parameter filter training only the last `last_blocks` transformer blocks (and
    the output norm); 0 trains every tensor."""
    def keep(tensor: int | None, _userdata: int | None) -> bool:
        if last_blocks <= 0:
            return True
        name = (libs.ggml.ggml_get_name(tensor) or b"").decode()
        if name.startswith("blk."):
            return int(name.split(".")[1]) >= n_blocks - last_blocks
        return name.startswith("output_norm")
    return native.ParamFilter(keep)


@dataclass
class Checkpoint:
    """The state saved after each finished epoch, next to its weights."""

    epoch: int
    step: int
    weights: str
    train_loss: float
    val_loss: float | None

    @staticmethod
    def read(folder: Path) -> Checkpoint | None:
        path = folder / "checkpoint.json"
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        state = Checkpoint(**data)
        return state if Path(state.weights).is_file() else None

    def write(self, folder: Path) -> None:
        partial = folder / "checkpoint.json.partial"
        partial.write_text(json.dumps(self.__dict__))
        partial.replace(folder / "checkpoint.json")


def n_blocks(model: Any) -> int:
    return int(llama_cpp.llama_model_n_layer(model))


def warm_threads(ctx: Any, token: int) -> None:
    """The thread count takes effect only after a decode: run one, then forget it."""
    keep = (llama_cpp.llama_token * 1)(token)
    llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(keep, 1))
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)


def now() -> float:
    return time.monotonic()
