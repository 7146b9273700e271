"""Eval items on workers: 40 arithmetic items with the packaged model, run one after the
other in this process (as `agent eval` does without --workers), then on Ray with 2 workers
of 1 CPU each, then on 2 local worker processes. Prints wall-clock times and the speed-up
against the sequential run of the same session, with the machine's load (the cores are
shared, so the ratio moves with what else runs).

    python benchmarks/batch.py [--items 40] [--model smollm2-135m] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import time

from agent.batch.evals import eval_units, load_eval_model, run_units
from agent.batch.local import local_pool
from agent.batch.pool import Pool
from agent.batch.ray_cluster import LOOPBACK_ENV, RayBackend, ray_available
from agent.cli.evals import sample
from agent.evals import arithmetic
from agent.evals.runner import ItemOutcome, Setup
from agent.models import resolve_model


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"


def sequential(setup: Setup, problems: list[arithmetic.Problem]) -> tuple[float, list[ItemOutcome]]:
    started = time.perf_counter()
    model = resolve_model(setup.model)
    outcomes = list(arithmetic.run(setup, model, problems))
    return time.perf_counter() - started, outcomes


def pooled(pool: Pool, setup: Setup, problems: list[arithmetic.Problem]) -> tuple[float, list[ItemOutcome]]:
    started = time.perf_counter()
    try:
        [(_, outcomes)] = list(run_units(eval_units(arithmetic.TASK, [setup], problems), pool))
    finally:
        pool.close()
    return time.perf_counter() - started, outcomes


def report(name: str, seconds: float, outcomes: list[ItemOutcome], baseline: float) -> None:
    correct = sum(o.correct for o in outcomes)
    print(f"{name:<34} {seconds:7.1f} s  {len(outcomes) / seconds * 60:5.1f} items/min  "
          f"{correct}/{len(outcomes)} correct  speed-up {baseline / seconds:.2f}x  [{load()}]", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=40)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    setup = Setup(args.model)
    problems = sample(arithmetic.load_problems(), args.items, args.seed)
    print(f"{len(problems)} arithmetic items, {args.model}, agent defaults; before: {load()}", flush=True)
    base, local = sequential(setup, problems)
    report("sequential, this process", base, local, base)
    if ray_available():
        os.environ.setdefault(LOOPBACK_ENV, "0")
        started = time.perf_counter()
        backend = RayBackend(load_eval_model, cpus=1)
        start = time.perf_counter() - started
        seconds, on_ray = pooled(Pool(backend, workers=args.workers), setup, problems)
        report(f"Ray, {args.workers} workers x 1 CPU", seconds, on_ray, base)
        report(f"  ... with Ray's start ({start:.1f} s)", seconds + start, on_ray, base)
        same = sum(a.predicted == b.predicted for a, b in zip(local, on_ray))
        print(f"  answers equal to the sequential run's: {same}/{len(local)}")
    else:
        print("Ray is not installed (pip install 'interleaf[ray]'): no Ray measurement")
    seconds, on_processes = pooled(local_pool(load_eval_model, workers=args.workers, cpus=1), setup, problems)
    report(f"local processes, {args.workers} x 1 thread", seconds, on_processes, base)


if __name__ == "__main__":
    main()
