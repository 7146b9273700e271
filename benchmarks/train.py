"""Toolformer end to end on the default corpus, and the gain it buys.

    python benchmarks/train.py [--corpus N] [--epochs N] [--lr X] [--seed N] [--threads N] [--limit N]
                               [--home DIR] [--held-out N] [--eval-only]

1. `agent.training.train` on the generated corpus: sampling calls at the positions where
   the open marker is in the model's top k, the loss filter, fine-tuning in a child
   process, quantization to Q8_0, registration as `smollm2-135m-tools` (in a
   temporary data folder unless `--home`). Prints the time, the peak memory (this
   process and the training child) and how many sampled calls the filter kept.
2. The arithmetic eval (`agent.evals.arithmetic`, its own defaults) of the base model with
   tools and of the tuned model with tools, resolved through the catalog by name, each
   with the same recipe (the tuned model is registered with the base's few-shot examples,
   and `Agent` and `agent eval` use them); one-step and multi-step problems reported
   separately.
3. The same two models, asked the same way, on `--held-out` problems of the corpus's own
   families with questions the training corpus does not have: what the training taught,
   apart from how far it carries to the eval's wordings (`--eval-only` measures a model
   already trained in `--home`).

One training is one draw: `--seed` changes the generated corpus and the order the texts
are trained in, and the same texts trained in another order can score far apart (runs 19
to 23 in benchmarks/RESULTS.md).

Targets: tuned ≥ base + 15 points; ≥ 30% of the multi-step problems; the pipeline
≤ 30 minutes and ≤ 4 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from agent.evals import arithmetic
from agent.cli import evals as eval_cli
from agent.evals.runner import Setup
from agent.training import corpus
from agent.training import SamplingConfig, TrainConfig, TrainingFinished, SamplingFinished, to_json, train

BASE = "smollm2-135m"
TUNED = "smollm2-135m-tools"
HELD_OUT_SEED = 4242


def pipeline(args: argparse.Namespace) -> tuple[float, SamplingFinished | None, TrainingFinished | None]:
    config = TrainConfig(base=BASE, name=TUNED, corpus_size=args.corpus, epochs=args.epochs,
                         sampling=SamplingConfig(per_position=args.per_position), last_blocks=args.last_blocks,
                         average=args.average, base_share=args.base_share,
                         multi_step_repeats=args.multi_step_repeats,
                         rare_operation_repeats=args.rare_operation_repeats,
                         dataset=args.dataset, prompted=args.prompted, n_ctx=512 if args.prompted else 256,
                         every_step=args.every_step, compound=args.compound, lr=args.lr,
                         seed=args.seed,
                         **({"threads": args.threads} if args.threads else {}),
                         **({"sampling_workers": args.workers} if args.workers else {}))
    started = time.perf_counter()
    sampled: SamplingFinished | None = None
    finished: TrainingFinished | None = None
    for event in train(config):
        if isinstance(event, SamplingFinished):
            sampled = event
        if isinstance(event, TrainingFinished):
            finished = event
        if args.verbose or type(event).__name__ != "Progress" or getattr(event, "step", 0) % 10 == 0:
            print(json.dumps(to_json(event)), flush=True)
    return time.perf_counter() - started, sampled, finished


def held_out(n: int, trained: int, seed: int = TrainConfig().seed) -> list[arithmetic.Problem]:
    """`n` problems of the generated corpus's own families, with questions the training
    corpus (its first `trained` problems, drawn with `seed`) does not have."""
    seen = {p.question for p in corpus.problems(trained, seed=seed)}
    found: list[arithmetic.Problem] = []
    for problem in corpus.problems(n + trained, seed=HELD_OUT_SEED):
        if problem.question not in seen and len(found) < n:
            formula = "; ".join(expression for _, expression, _ in problem.steps)
            kind = "multi" if len(problem.steps) > 1 else "one"
            found.append(arithmetic.Problem(f"held-out-{len(found)}", kind, problem.question, formula,
                                            float(problem.steps[-1][2].replace(",", ""))))
    return found


def evaluate(spec: str, problems: list[arithmetic.Problem]) -> dict[str, tuple[int, int]]:
    """(correct, items) for one-step and multi-step problems, the eval's own settings."""
    options = eval_cli.parser().parse_args(["arithmetic", "--threads", "1"])
    model = eval_cli.load_model(spec, options)
    kinds = {p.id: ("multi-step" if p.kind == "multi" else "one-step") for p in problems}
    scores = {"one-step": [0, 0], "multi-step": [0, 0]}
    for outcome in arithmetic.run(Setup(spec), model, problems):
        cell = scores[kinds[outcome.item]]
        cell[0] += int(outcome.correct)
        cell[1] += 1
    return {k: (v[0], v[1]) for k, v in scores.items()}


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def pct(cell: tuple[int, int]) -> str:
    return f"{100 * cell[0] / cell[1]:.1f}% ({cell[0]}/{cell[1]})" if cell[1] else "-"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=int, default=TrainConfig().corpus_size, help="generated problems to annotate")
    p.add_argument("--epochs", type=int, default=TrainConfig().epochs)
    p.add_argument("--per-position", type=int, default=3, help="candidate calls per position")
    p.add_argument("--last-blocks", type=int, default=0, help="train only the last N blocks (0: all)")
    p.add_argument("--average", action=argparse.BooleanOptionalAction, default=TrainConfig().average,
                   help="tune to the mean of the epochs' checkpoints, not the last one")
    p.add_argument("--multi-step-repeats", type=int, default=TrainConfig().multi_step_repeats,
                   help="times a text with a multi-step call is trained per epoch")
    p.add_argument("--rare-operation-repeats", type=int, default=TrainConfig().rare_operation_repeats,
                   help="at most this many times, a one-step text with a rare operation is trained per epoch")
    p.add_argument("--base-share", type=float, default=TrainConfig().base_share,
                   help="the base's share in the tuned weights (0: the tuned weights alone)")
    p.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: the default, one per core)")
    p.add_argument("--workers", type=int, default=0, help="sampling processes (0: the default, one per core)")
    p.add_argument("--lr", type=float, default=TrainConfig().lr, help="peak learning rate (cosine down to lr_min)")
    p.add_argument("--seed", type=int, default=TrainConfig().seed,
                   help="the generated corpus's draws and the order of the training texts")
    p.add_argument("--limit", type=int, default=0, help="eval items (0: all 125)")
    p.add_argument("--home", type=Path, help="data folder for the tuned model (default: a temporary one)")
    p.add_argument("--dataset", type=Path, help="train on the texts an earlier run kept (its dataset.jsonl): "
                   "no sampling")
    p.add_argument("--prompted", action="store_true", help="train each text after the question prompt's system "
                   "text (512-token windows)")
    p.add_argument("--every-step", action="store_true", help="a text joins only with a call kept at every step")
    p.add_argument("--compound", action=argparse.BooleanOptionalAction, default=TrainConfig().compound,
                   help="multi-step answers as one compound call")
    p.add_argument("--eval", choices=("both", "tuned"), default="both", help="models to evaluate")
    p.add_argument("--held-out", type=int, default=100, help="problems of the corpus's own families, new questions, "
                   "also asked (0: none)")
    p.add_argument("--eval-only", action="store_true", help="no training: evaluate the tuned model already in --home")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="interleaf-train-"))
    os.environ["INTERLEAF_HOME"] = str(home)
    print(f"load average at the start: {load()}", flush=True)
    if not args.eval_only:
        report(args, *pipeline(args))
    problems = arithmetic.load_problems()
    sets = [("arithmetic eval with tools", eval_cli.sample(problems, args.limit, 0) if args.limit else problems)]
    if args.held_out:
        sets.append((f"held-out problems of the corpus's families ({args.corpus} trained on)",
                     held_out(args.held_out, args.corpus, args.seed)))
    for title, asked in sets:
        started = time.perf_counter()
        rows = {name: evaluate(name, asked) for name in ((BASE, TUNED) if args.eval == "both" else (TUNED,))}
        print(f"\n{title} ({(time.perf_counter() - started) / 60:.1f} min, load average {load()}):")
        print(f"{'model':<22} {'one-step':<20} {'multi-step':<20} all")
        for name, cells in rows.items():
            both = (cells["one-step"][0] + cells["multi-step"][0], cells["one-step"][1] + cells["multi-step"][1])
            print(f"{name:<22} {pct(cells['one-step']):<20} {pct(cells['multi-step']):<20} {pct(both)}")
    return 0


def report(args: argparse.Namespace, seconds: float, sampled: SamplingFinished | None,
           finished: TrainingFinished | None) -> None:
    print(f"load average after the pipeline: {load()}", flush=True)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npipeline: {seconds / 60:.1f} min (target ≤ 30), peak memory {max(own, child) / 1024:.2f} GB "
          f"(this process {own:.0f} MB, training child {child:.0f} MB; target ≤ 4 GB)")
    if sampled is not None:
        print(f"sampling: {sampled.texts} texts, {sampled.positions} positions with the open marker in the top "
              f"{SamplingConfig().top_k}, {sampled.sampled} calls sampled and executed, {sampled.kept} kept by the "
              f"filter ({100 * sampled.kept / max(1, sampled.sampled):.0f}%), {sampled.training_texts} training texts")
    if finished is not None:
        print("epochs:", json.dumps(finished.epochs))


if __name__ == "__main__":
    sys.exit(main())
