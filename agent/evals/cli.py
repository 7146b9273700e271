"""`agent eval`: run the evals over a grid of configurations and print the table."""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

from agent.errors import InterleafError
from agent.evals import arithmetic, bfcl
from agent.evals.report import print_row, print_table, table
from agent.evals.runner import Outcome, Row, Setup, grid, run_grid
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
    p.add_argument("--configs", default="", help=(
        "explicit configurations, comma-separated, each '+'-joined from: tools, none, grammar, "
        "check, k=N (e.g. 'none,none+check,tools+grammar+k=10'); overrides the grid options"))
    p.add_argument("--tools", default="off,on", help="grid: off,on")
    p.add_argument("--grammar", default="off,on", help="grid: off,on")
    p.add_argument("--k", default="0,10", help="grid: trigger k values (0: no trigger)")
    p.add_argument("--check", default="off", help="grid: arithmetic check off,on")
    p.add_argument("--limit", type=int, default=0, help="items per configuration (0: all)")
    p.add_argument("--seed", type=int, default=0, help="order of items (a fixed shuffle)")
    p.add_argument("--template", choices=("plain", "chat"), default="plain", help=(
        "prompt format: plain completion text (default; the packaged Gemma 3 270M is a base "
        "model) or the model's chat template"))
    p.add_argument("--examples", choices=tuple(arithmetic.STYLES), default="single", help=(
        "arithmetic few-shot style: one expression per answer, or multi-step answers worked step by step"))
    p.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    p.add_argument("--max-tokens", type=int, default=0, help="completion tokens per item (0: the task's default)")
    p.add_argument("--log", type=Path, help="append every item's outcome here as JSON lines")
    p.add_argument("--markdown", type=Path, help="write the table here")
    return p


def _flags(text: str) -> list[bool]:
    values = [v.strip().lower() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in ("on", "off")]
    if bad or not values:
        raise ValueError(f"expected on/off values, got {text!r}")
    return [v == "on" for v in values]


def parse_config(model: str, text: str) -> Setup:
    """A configuration like 'tools+grammar+k=10' or 'none+check'."""
    tools, grammar, check, k = True, False, False, 0
    for part in (p.strip().lower() for p in text.split("+")):
        if part in ("none", "notools", "no tools"):
            tools = False
        elif part == "tools":
            tools = True
        elif part == "grammar":
            grammar = True
        elif part == "check":
            check = True
        elif part.startswith("k="):
            k = int(part[2:])
        else:
            raise ValueError(f"unknown configuration part {part!r} in {text!r}")
    return Setup(model, tools, grammar and tools, k if tools else 0, check)


def setups(args: argparse.Namespace) -> list[Setup]:
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.configs:
        return [parse_config(m, c) for m in models for c in args.configs.split(",") if c.strip()]
    ks = [int(k) for k in args.k.split(",") if k.strip()]
    return grid(models, _flags(args.tools), _flags(args.grammar), ks, _flags(args.check))


def sample(items: Sequence[T], limit: int, seed: int) -> list[T]:
    chosen = list(items)
    random.Random(seed).shuffle(chosen)
    return chosen[:limit] if limit > 0 else chosen


def load_model(spec: str, args: argparse.Namespace) -> Model:
    options: dict[str, Any] = {"n_threads": args.threads}
    if args.template == "plain":
        from agent.models.chat_template import PLAIN_TEMPLATE

        options["chat_template"] = PLAIN_TEMPLATE
    return resolve_model(spec, **options)


def runner(args: argparse.Namespace) -> tuple[str, Callable[[Setup, Model], Iterator[Outcome]]]:
    if args.task == "arithmetic":
        problems = sample(arithmetic.load_problems(), args.limit, args.seed)
        tokens = args.max_tokens or 160
        return arithmetic.TASK, lambda s, m: arithmetic.run(s, m, problems, max_tokens=tokens, style=args.examples)
    cases = sample(bfcl.load_cases(*bfcl.data_files()), args.limit, args.seed)
    return bfcl.TASK, lambda s, m: bfcl.run(s, m, cases, max_tokens=args.max_tokens or 96)


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
        for setup in configs:
            try:
                model = models.get(setup.model) or models.setdefault(setup.model, load_model(setup.model, args))
            except InterleafError as exc:
                print(f"agent eval: {exc}", file=sys.stderr)
                return 2
            rows += run_grid(task, [setup], lambda s: run(s, model), log=log, on_row=print_row)
    print_table(rows)
    if args.markdown:
        args.markdown.write_text(table(rows) + "\n", encoding="utf-8")
    return 0
