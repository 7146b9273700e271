"""`agent eval`: run the evals over a grid of configurations and print the table.

The evals themselves (`agent.evals`) return data; this module parses the command line and
prints their progress and results."""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO, TypeVar

from agent.batch.options import add_pool_options
from agent.errors import InterleafError
from agent.evals import arithmetic, bfcl
from agent.evals.report import line, table
from agent.evals.runner import ItemOutcome, Row, Setup, grid, run_grid
from agent.models import resolve_model
from agent.models.base import Model

DEFAULT_MODELS = ("smollm2-135m", "gemma3-270m")
T = TypeVar("T")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agent eval", description=(
        "Measure tool use: arithmetic word problems (the project's set, lenient scoring) or BFCL "
        "'simple' function calling, for each configuration of model × tools × grammar × trigger k × "
        "arithmetic check."))
    p.add_argument("task", choices=("arithmetic", "bfcl"))
    p.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated model specs")
    p.add_argument("--configs", default="defaults,none", help=(
        "configurations, comma-separated, each '+'-joined from: defaults (what `agent run --single` "
        "does on the model), none (no tools), grammar, nogrammar, check, nocheck, k=N "
        "(e.g. 'defaults,none,none+check,nogrammar+k=10'); ignored when a grid option is given"))
    p.add_argument("--tools", default=None, help="grid: off,on")
    p.add_argument("--grammar", default=None, help="grid: off,on,recipe")
    p.add_argument("--k", default=None, help="grid: trigger k values (0: no trigger; recipe)")
    p.add_argument("--check", default=None, help="grid: arithmetic check off,on,recipe")
    p.add_argument("--limit", type=int, default=0, help="items per configuration (0: all)")
    p.add_argument("--seed", type=int, default=0, help="order of items (a fixed shuffle)")
    p.add_argument("--ids", default="", help="arithmetic: only these items, comma-separated ids")
    p.add_argument("--examples", choices=tuple(arithmetic.STYLES), default="single", help=(
        "the no-tools baseline's examples: one equation per answer, or multi-step answers worked step by step"))
    p.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: as `agent run`)")
    p.add_argument("--max-tokens", type=int, default=0, help="bfcl: completion tokens per item (0: the default)")
    p.add_argument("--log", type=Path, help="append every item's outcome here as JSON lines")
    p.add_argument("--markdown", type=Path, help="write the table here")
    add_pool_options(p, _positive)
    return p


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above zero, got {value}")
    return value


_FLAGS: dict[str, bool | None] = {"on": True, "off": False, "recipe": None}


def _flags(text: str | None) -> list[bool | None]:
    values = [v.strip().lower() for v in (text or "recipe").split(",") if v.strip()]
    bad = [v for v in values if v not in _FLAGS]
    if bad or not values:
        raise ValueError(f"expected on/off/recipe values, got {text!r}")
    return [_FLAGS[v] for v in values]


def parse_config(model: str, text: str) -> Setup:
    """A configuration like 'defaults', 'nogrammar+k=10' or 'none+check'."""
    tools, grammar, check, k = True, None, None, None
    for part in (p.strip().lower() for p in text.split("+")):
        if part in ("none", "notools", "no tools"):
            tools = False
        elif part in ("tools", "defaults"):
            tools = True
        elif part in ("grammar", "nogrammar"):
            grammar = part == "grammar"
        elif part in ("check", "nocheck"):
            check = part == "check"
        elif part.startswith("k="):
            k = int(part[2:])
        else:
            raise ValueError(f"unknown configuration part {part!r} in {text!r}")
    return Setup(model, tools, grammar if tools else None, k if tools else None, check)


def setups(args: argparse.Namespace) -> list[Setup]:
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if all(option is None for option in (args.tools, args.grammar, args.k, args.check)):
        return [parse_config(m, c) for m in models for c in args.configs.split(",") if c.strip()]
    ks = [None if k.strip() == "recipe" else int(k) for k in (args.k or "recipe").split(",") if k.strip()]
    tools = [bool(t) for t in _flags(args.tools or "on")]
    return grid(models, tools, _flags(args.grammar), ks, _flags(args.check))


def sample(items: Sequence[T], limit: int, seed: int) -> list[T]:
    chosen = list(items)
    random.Random(seed).shuffle(chosen)
    return chosen[:limit] if limit > 0 else chosen


def load_model(spec: str, args: argparse.Namespace) -> Model:
    """The model as `agent run` loads it."""
    options: dict[str, Any] = {} if args.threads is None else {"n_threads": args.threads}
    return resolve_model(spec, **options)


def chosen_items(args: argparse.Namespace) -> list[arithmetic.Problem] | list[bfcl.Case]:
    """The items the options pick, in the order they run."""
    if args.task == "arithmetic":
        wanted = {i.strip() for i in args.ids.split(",") if i.strip()}
        problems = sample([p for p in arithmetic.load_problems() if not wanted or p.id in wanted], args.limit, args.seed)
        if wanted - {p.id for p in problems}:
            raise ValueError(f"no arithmetic items {sorted(wanted - {p.id for p in problems})}")
        return problems
    return sample(bfcl.load_cases(*bfcl.data_files()), args.limit, args.seed)


def runner(args: argparse.Namespace) -> tuple[str, Callable[[Setup, Model], Iterator[ItemOutcome]]]:
    items = chosen_items(args)
    if args.task == "arithmetic":
        problems = [p for p in items if isinstance(p, arithmetic.Problem)]
        return arithmetic.TASK, lambda s, m: arithmetic.run(s, m, problems, style=args.examples)
    cases = [c for c in items if isinstance(c, bfcl.Case)]
    return bfcl.TASK, lambda s, m: bfcl.run(s, m, cases, max_tokens=args.max_tokens or 96)


def on_pool(args: argparse.Namespace, task: str, configs: list[Setup], log: TextIO | None) -> list[Row]:
    """`--workers N` / `--ray`: every configuration × item a unit of a worker pool; the
    rows as a local run gives them, with a progress bar on a terminal. A model no worker
    can load raises the `UserError` a local run raises."""
    from rich.console import Console

    from agent.batch.evals import EvalUnit, eval_units, load_eval_model, run_units
    from agent.batch.start import open_pool
    from agent.cli.progress import ItemsProgress

    units = eval_units(task, configs, chosen_items(args), style=args.examples, max_tokens=args.max_tokens or 96)
    pool, note = open_pool(load_eval_model, workers=args.workers, cpus=args.cpus_per_worker, ray=args.ray,
                           address=args.ray_address)
    for text in (note, f"Running {len(units)} items on {pool.description}"):
        if text:
            print(text, file=sys.stderr, flush=True)
    rows: dict[Setup, Row] = {}
    try:
        with ItemsProgress(Console(stderr=True), len(units), label="eval") as progress:

            def ended(unit: EvalUnit, outcome: ItemOutcome) -> None:
                progress.ended(outcome.stop != "error")

            for setup, outcomes in run_units(units, pool, on_outcome=ended):
                rows[setup] = run_grid(task, [setup], lambda s: iter(outcomes), log=log, on_row=_print_row)[0]
    finally:
        pool.close()
    return [rows[s] for s in configs if s in rows]


def main(argv: list[str] | None = None) -> int:
    """Run `agent eval ...`; 0 on success, 2 on bad usage, 3 when the data is missing."""
    args = parser().parse_args(argv)
    try:
        configs = setups(args)
        task, run = runner(args)
    except bfcl.NotInstalled as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 3
    except ValueError as exc:
        print(f"agent eval: {exc}", file=sys.stderr)
        return 2
    models: dict[str, Model] = {}
    rows: list[Row] = []
    with ExitStack() as stack:
        log = stack.enter_context(args.log.open("a", encoding="utf-8")) if args.log else None
        pooled = bool(args.workers or args.ray or args.ray_address)
        if pooled:
            try:
                rows = on_pool(args, task, configs, log)
            except InterleafError as exc:
                print(f"agent eval: {exc}", file=sys.stderr)
                return 2
        for setup in [] if pooled else configs:
            try:
                model = models.get(setup.model) or models.setdefault(setup.model, load_model(setup.model, args))
            except InterleafError as exc:
                print(f"agent eval: {exc}", file=sys.stderr)
                return 2
            rows += run_grid(task, [setup], lambda s: run(s, model), log=log, on_row=_print_row)
    print(table(rows), flush=True)
    if args.markdown:
        args.markdown.write_text(table(rows) + "\n", encoding="utf-8")
    return 0


def _print_row(row: Row) -> None:
    """Progress: one line per finished configuration."""
    print(line(row), flush=True)
