"""`agent train`: Toolformer end to end (agent.training) with a live progress view or
JSON Lines events."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.text import Text

if TYPE_CHECKING:
    from agent.training import TrainConfig, TrainEvent


def add_parser(sub: argparse._SubParsersAction[Any], home: argparse.ArgumentParser) -> None:
    p = sub.add_parser("train", parents=[home], help="teach a model to use its tools (Toolformer)", description=(
        "Sample the model's own tool calls in a corpus, keep the ones whose results make the following text "
        "easier to predict, fine-tune the model on them in process (llama.cpp), quantize it back and register "
        "it as a model spec (--name) usable with --model."))
    p.add_argument("--base", default="smollm2-135m", metavar="SPEC", help="packaged model or .gguf to start from")
    p.add_argument("--name", default="smollm2-135m-tools", help="spec the tuned model is registered under")
    p.add_argument("--files", nargs="+", type=Path, metavar="PATH",
                   help="your own texts (files or folders; paragraphs) instead of the generated word problems")
    p.add_argument("--corpus", type=int, default=640, metavar="N", help="generated problems to annotate")
    p.add_argument("--from-runs", action="store_true", help="add instruction-answer pairs from the saved runs")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=5e-5, help="learning rate, decayed to a tenth (cosine)")
    p.add_argument("--top-k", type=int, default=20, help="sample where the open marker is in the top k")
    p.add_argument("--per-position", type=int, default=3, help="candidate calls per position")
    p.add_argument("--tau", type=float, default=0.5, help="least loss reduction a kept call brings")
    p.add_argument("--compound", action=argparse.BooleanOptionalAction, default=True,
                   help="a worked answer with several steps joins only with a call at each, as one compound call "
                        "(default)")
    p.add_argument("--multi-step-repeats", type=int, default=None, metavar="N",
                   help="times a text with a multi-step call is trained per epoch (default: 2)")
    p.add_argument("--rare-operation-repeats", type=int, default=None, metavar="N",
                   help="at most N times, a one-step text whose operation is rarer than the most common one is "
                        "trained per epoch (default: 2)")
    p.add_argument("--average", action=argparse.BooleanOptionalAction, default=True,
                   help="tune to the mean of the epochs' checkpoints (default), not the last one")
    p.add_argument("--base-share", type=float, default=None, metavar="S",
                   help="the base's share in the tuned weights: (1 - S) * tuned + S * base (default: half; 0: none)")
    p.add_argument("--last-blocks", type=int, default=0, metavar="N", help="train only the last N blocks")
    p.add_argument("--max-steps", type=int, default=0, metavar="N", help="optimizer steps per epoch (0: all)")
    p.add_argument("--examples", type=int, default=None, metavar="N",
                   help="few-shot examples per tool in the tuned model's question prompts (default: the base's)")
    p.add_argument("--ftype", default="q8_0", help="type of the tuned model (q8_0, f16, f32; q4_1 undoes the tuning)")
    p.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: one per core)")
    p.add_argument("--workers", type=int, default=0, metavar="N",
                   help="processes that sample at once, sharing the threads (0: one per core, at most 4)")
    p.add_argument("--json", action="store_true", help="JSON Lines events on stdout")


def config(args: argparse.Namespace) -> TrainConfig:
    from agent.training import SamplingConfig, TrainConfig, texts_from_runs
    from agent.training.corpus import read_files

    if args.examples is not None and args.examples < 0:
        from agent.errors import ConfigError

        raise ConfigError(f"--examples must be zero or more, got {args.examples}")
    extra: tuple[str, ...] = ()
    if args.from_runs:
        from agent.cli.commands import open_store
        from agent.finetune import stored_pairs

        extra = texts_from_runs(stored_pairs(open_store(args.home)))
    texts = tuple(read_files(args.files)) if args.files else ()
    sampling = SamplingConfig(top_k=args.top_k, per_position=args.per_position, tau=args.tau)
    return TrainConfig(base=args.base, name=args.name, texts=texts, corpus_size=args.corpus, extra_texts=extra,
                       sampling=sampling, epochs=args.epochs, lr=args.lr, ftype=args.ftype,
                       last_blocks=args.last_blocks, average=args.average, max_steps=args.max_steps,
                       compound=args.compound, examples=args.examples,
                       home=Path(args.home).expanduser() if args.home else None,
                       **({"base_share": args.base_share} if args.base_share is not None else {}),
                       **({"multi_step_repeats": args.multi_step_repeats} if args.multi_step_repeats is not None else {}),
                       **({"rare_operation_repeats": args.rare_operation_repeats}
                          if args.rare_operation_repeats is not None else {}),
                       **({"threads": args.threads} if args.threads > 0 else {}),
                       **({"sampling_workers": args.workers} if args.workers > 0 else {}))


class TrainView:
    """The live view: one line per finished stage, then the current stage with its step,
    loss, tokens/s and time left."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.current: TrainEvent | None = None
        self.stage = ""

    def handle(self, event: TrainEvent) -> None:
        from agent.training import (EpochFinished, Progress, SamplingFinished, StageStarted, TrainingFinished)

        if isinstance(event, StageStarted):
            self.stage = f"{event.stage}: {event.detail}" if event.detail else event.stage
            self.current = None
        elif isinstance(event, Progress):
            self.current = event
        elif isinstance(event, SamplingFinished):
            self.done.append(f"sampled {event.sampled} calls at {event.positions} positions in {event.texts} texts; "
                             f"the filter kept {event.kept}; {event.training_texts} training texts"
                             + (f"; {event.too_long} texts too long to annotate" if event.too_long else ""))
        elif isinstance(event, EpochFinished):
            val = f", validation {event.val_loss:.3f}" if event.val_loss is not None else ""
            self.done.append(f"epoch {event.epoch}: loss {event.train_loss:.3f}{val}")
        elif isinstance(event, TrainingFinished):
            self.done.append(f"registered {event.name} ({event.path}) in {event.seconds / 60:.1f} min; "
                             f"use --model {event.name}")
            self.stage, self.current = "", None

    def render(self) -> Group:
        lines: list[Any] = [Text(f"✓ {line}", style="green") for line in self.done]
        if self.stage:
            from rich.table import Table

            table = Table.grid(padding=(0, 2))
            table.add_row(Text(self.stage, style="bold"), *self._cells())
            lines.append(table)
        return Group(*lines)

    def _cells(self) -> list[str]:
        from agent.training import Progress

        event = self.current
        if not isinstance(event, Progress):
            return []
        cells = [f"step {event.step}/{event.steps}"]
        if event.loss is not None:
            cells.append(f"loss {event.loss:.3f}")
        if event.kept is not None:
            cells.append(f"kept {event.kept}")
        if event.tokens_per_s:
            cells.append(f"{event.tokens_per_s:.0f} tokens/s")
        if event.seconds_left is not None:
            cells.append(f"{event.seconds_left / 60:.1f} min left")
        return cells


def cmd_train(args: argparse.Namespace, out: Console) -> int:
    from agent.training import to_json, train

    events = train(config(args))
    if args.json:
        for event in events:
            out.print(json.dumps(to_json(event)), markup=False, highlight=False, soft_wrap=True)
        return 0
    from rich.live import Live

    view = TrainView()
    with Live(view.render(), console=out, refresh_per_second=4, transient=False) as live:
        for event in events:
            view.handle(event)
            live.update(view.render())
    return 0
