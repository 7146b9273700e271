"""The training run itself: convert, load, build the dataset, run the epochs, checkpoint
and quantize. Runs in the training child process; reports through `emit`."""

from __future__ import annotations

import ctypes
import random
from pathlib import Path
from typing import Any

import llama_cpp

from agent.training import fit, native, soup
from agent.training.fit import Checkpoint, Emit
from agent.training.plan import FitPlan

BASE_F32 = "base-f32.gguf"
"""The base model converted to F32, the first epoch's starting point."""
EPOCH = "epoch-{}.gguf"
"""An epoch's checkpoint (`EPOCH.format(n)`)."""
AVERAGED = "averaged-f32.gguf"
"""The mean of the epochs' checkpoints (`FitPlan.average`)."""
MIXED = "mixed-f32.gguf"
"""The tuned weights mixed with the base's (`FitPlan.base_share`): the weights that are
quantized, removed after."""


def start_weights(plan: FitPlan, emit: Emit) -> tuple[Path, Checkpoint | None]:
    """The F32 weights to load: the last checkpoint when there is one, else the base
    model converted to F32."""
    state = Checkpoint.read(plan.workdir)
    if state is not None:
        emit({"type": "resumed", "epoch": state.epoch, "step": state.step})
        return Path(state.weights), state
    if not (plan.workdir / BASE_F32).is_file():
        emit({"type": "stage", "stage": "convert", "detail": f"{plan.base.name} to F32"})
    return base_in_f32(plan), None


def base_in_f32(plan: FitPlan) -> Path:
    """The base model converted to F32 in the workdir (converted unless it is there)."""
    f32 = plan.workdir / BASE_F32
    if not f32.is_file():
        fit.quantize(plan.base, f32, "f32", threads=plan.threads)
    return f32


def token_rows(plan: FitPlan, model: Any) -> tuple[list[list[int]], int]:
    """Training windows, then validation windows, and how many of those there are. The
    texts are shuffled (a fixed seed) and the last `plan.val_split` of the distinct ones
    are held out with every copy, so that a text trained more than once is never also
    validated on."""
    texts = list(plan.texts)
    random.Random(plan.seed).shuffle(texts)
    distinct = list(dict.fromkeys(texts))
    n_held = int(len(distinct) * plan.val_split)
    if plan.val_split > 0 and n_held == 0 and len(distinct) > 1:
        n_held = 1
    held = set(distinct[len(distinct) - n_held :])

    def windows(group: list[str]) -> list[list[int]]:
        docs = [fit.tokenize(model, text.rstrip() + "\n\n", bos=False) for text in group]
        return fit.windows(docs, plan.n_ctx, plan.stride)

    rows, val_rows = windows([t for t in texts if t not in held]), windows([t for t in distinct if t in held])
    if plan.max_steps:
        rows = rows[: plan.max_steps]
    return rows + val_rows, len(val_rows)


def epoch_order(seed: int, epoch: int, n_train: int) -> list[int]:
    """The order of the training windows in `epoch` (counted from 0): as packed in the
    first, shuffled again (seeded by the run's seed and the epoch) in each later one, so
    that the windows trained last differ from epoch to epoch (llama.cpp's epoch reads the
    dataset in order). On its own it did not settle how much the order matters: run 39's
    texts scored 47.2% and 30.4% of the arithmetic set in two orders, against 46.4% and
    32.8% with one order for every epoch (benchmarks/RESULTS.md, runs 39, 41, 45, 46)."""
    order = list(range(n_train))
    if epoch:
        random.Random(f"{seed}/{epoch}").shuffle(order)
    return order


def superseded(workdir: Path, latest: Path, *, keep_epochs: bool = False) -> None:
    """Delete the F32 weights that the checkpoint at `latest` replaces (the F32 base and,
    unless `keep_epochs` (they are to be averaged), earlier epochs, 540 MB each for
    SmolLM2-135M): a run resumes from the latest only."""
    for old in [workdir / BASE_F32, *([] if keep_epochs else workdir.glob(EPOCH.format("*")))]:
        if old != latest:
            old.unlink(missing_ok=True)


def finish(plan: FitPlan, emit: Emit) -> Path:
    """The finished run's weights (`tuned_weights`), mixed with the base's by
    `plan.base_share`, quantized to `plan.ftype` as `plan.output`."""
    weights = tuned_weights(plan, emit)
    mixed = plan.workdir / MIXED
    if plan.base_share > 0:
        emit({"type": "stage", "stage": "mix", "detail": f"{plan.base_share:.0%} of the base's weights"})
        base = base_in_f32(plan)
        soup.average([weights, base], mixed, weights=[1 - plan.base_share, plan.base_share])
        base.unlink()
        weights = mixed
    emit({"type": "stage", "stage": "quantize", "detail": plan.ftype})
    fit.quantize(weights, plan.output, plan.ftype, threads=plan.threads)
    mixed.unlink(missing_ok=True)
    return plan.output


def tuned_weights(plan: FitPlan, emit: Emit) -> Path:
    """The last checkpoint, or with `plan.average` the mean of the epochs' checkpoints
    (made once: the epochs' files are deleted after it, so a finished run reuses it)."""
    state = Checkpoint.read(plan.workdir)
    assert state is not None
    if not plan.average:
        return Path(state.weights)
    averaged = plan.workdir / AVERAGED
    if not averaged.is_file():
        epochs = [p for n in range(1, state.epoch + 1) if (p := plan.workdir / EPOCH.format(n)).is_file()]
        if len(epochs) < 2:
            return Path(state.weights)
        emit({"type": "stage", "stage": "average", "detail": f"the checkpoints of {len(epochs)} epochs"})
        soup.average(epochs, averaged)
        superseded(plan.workdir, Path(state.weights))
    return averaged


class Run:
    """One training run's native state and progress bookkeeping."""

    def __init__(self, plan: FitPlan, emit: Emit) -> None:
        self.plan, self.emit = plan, emit
        self.libs = native.load()
        plan.workdir.mkdir(parents=True, exist_ok=True)
        weights, self.state = start_weights(plan, emit)
        emit({"type": "stage", "stage": "load", "detail": weights.name})
        self.model = fit.load_model(weights)
        self.ctx = fit.new_context(self.model, plan.n_ctx, plan.threads)
        rows, self.n_val = token_rows(plan, self.model)
        if len(rows) - self.n_val < 1:
            raise ValueError("the corpus is too small for one training window")
        self.rows = rows
        self.dataset = fit.dataset(self.libs, rows, plan.n_ctx)
        self.opt = native.OptimizerParams()
        self.opt.adamw = native.AdamW(plan.lr, 0.9, 0.999, 1e-8, 0.0)
        self.steps_per_epoch = len(rows) - self.n_val
        self.total = self.steps_per_epoch * plan.epochs
        self.step = self.state.step if self.state else 0
        self.epoch = self.state.epoch if self.state else 0
        self.t0 = fit.now()
        self.first_step = self.step
        self._sum, self._seen = 0.0, 0
        fit.warm_threads(self.ctx, rows[0][0])
        self._filter = fit.tensor_filter(self.libs, plan.last_blocks, fit.n_blocks(self.model))
        self._callbacks = (native.EpochCallback(self._on_train), native.EpochCallback(self._on_eval))
        params = native.OptParams(0, ctypes.cast(self._filter, ctypes.c_void_p).value, None,
                                  native.constant_params_fn(self.libs), ctypes.addressof(self.opt),
                                  native.GGML_OPT_OPTIMIZER_TYPE_ADAMW)
        self.libs.llama.llama_opt_init(self.ctx, self.model, params)

    def _on_train(self, train: bool, _opt: int, _data: int, result: int, ibatch: int, _imax: int,
                  _t0: int) -> None:
        self.step += 1
        self.opt.adamw.alpha = fit.learning_rate(self.plan, self.step, self.total)
        loss, n = native.result_loss(self.libs, result)
        seen = n - self._seen
        batch_loss = (loss * n - self._sum) / seen if seen > 0 else loss
        self._sum, self._seen = loss * n, n
        done = self.step - self.first_step
        elapsed = fit.now() - self.t0
        rate = done * self.plan.n_ctx / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.step) * self.plan.n_ctx / rate if rate > 0 else None
        self.emit({"type": "step", "epoch": self.epoch + 1, "step": self.step, "steps": self.total,
                   "loss": loss, "batch_loss": batch_loss, "lr": float(self.opt.adamw.alpha), "tokens_per_s": rate, "seconds_left": left})

    def _on_eval(self, train: bool, _opt: int, _data: int, result: int, ibatch: int, imax: int, _t0: int) -> None:
        return None

    def epoch_once(self) -> tuple[float, float | None]:
        libs = self.libs.ggml
        r_train, r_eval = libs.ggml_opt_result_init(), libs.ggml_opt_result_init()
        self._sum, self._seen = 0.0, 0
        split = self.steps_per_epoch
        order = epoch_order(self.plan.seed, self.epoch, split)
        fit.fill(self.libs, self.dataset, [self.rows[i] for i in order], self.plan.n_ctx)
        try:
            self.libs.llama.llama_opt_epoch(self.ctx, self.dataset, r_train, r_eval if self.n_val else None, split,
                                            ctypes.cast(self._callbacks[0], ctypes.c_void_p),
                                            ctypes.cast(self._callbacks[1], ctypes.c_void_p))
            train_loss, _ = native.result_loss(self.libs, r_train)
            val = native.result_loss(self.libs, r_eval)[0] if self.n_val else None
        finally:
            libs.ggml_opt_result_free(r_train)
            libs.ggml_opt_result_free(r_eval)
        return train_loss, val

    def fit(self) -> None:
        while self.epoch < self.plan.epochs:
            self.emit({"type": "stage", "stage": "train", "detail": f"epoch {self.epoch + 1}/{self.plan.epochs}"})
            train_loss, val_loss = self.epoch_once()
            self.epoch += 1
            weights = self.plan.workdir / EPOCH.format(self.epoch)
            llama_cpp.llama_model_save_to_file(self.model, str(weights).encode())
            Checkpoint(self.epoch, self.step, str(weights), train_loss, val_loss).write(self.plan.workdir)
            superseded(self.plan.workdir, weights, keep_epochs=self.plan.average)
            self.emit({"type": "epoch", "epoch": self.epoch, "train_loss": train_loss, "val_loss": val_loss,
                       "checkpoint": str(weights)})

    def close(self) -> None:
        self.libs.ggml.ggml_opt_dataset_free(self.dataset)
        llama_cpp.llama_free(self.ctx)
        llama_cpp.llama_model_free(self.model)


def run(plan: FitPlan, emit: Emit) -> Path:
    """Train per `plan`, resuming from its workdir's last checkpoint; the quantized result."""
    fit.check_architecture(plan.base)
    state = Checkpoint.read(plan.workdir)
    if state is None or state.epoch < plan.epochs:
        (plan.workdir / AVERAGED).unlink(missing_ok=True)  # of fewer epochs
        training = Run(plan, emit)
        try:
            training.fit()
        finally:
            training.close()
    return finish(plan, emit)
