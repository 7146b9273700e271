"""`agent batch FILE`: many objectives on a pool of workers (Ray when asked), with a
progress bar, a summary and the exit code; and the loader its workers use."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import threading
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from agent.batch.options import add_pool_options
from agent.cli.exits import EXIT_DONE, EXIT_FAILED, EXIT_INTERRUPTED
from agent.cli.interrupt import cancel_on_signals

if TYPE_CHECKING:
    from agent.batch.driver import BatchEvent
    from agent.batch.pool import Pool
    from agent.models.base import Model
    from agent.tasks.store import ObjectiveStore

STOPPING = "stopping… items that ended are kept; the rest run with --resume (Ctrl-C again to quit at once)"


def add_parser(sub: Any, home: argparse.ArgumentParser, positive: Any) -> None:
    batch = sub.add_parser("batch", parents=[home], help="run many objectives from a JSON Lines file",
                           description="Run each objective of FILE (JSON Lines: {\"objective\": ..., plus optional "
                           "settings: model, tools, single, max_tasks, max_calls, max_tokens, timeout, max_cost, "
                           "grammar, trigger, examples, check_arithmetic}) on a pool of workers. Every run is stored "
                           "as `agent run` stores it: `agent runs`, `agent show` and `agent resume` work on them.")
    batch.add_argument("file", type=Path, metavar="FILE")
    batch.add_argument("--model", metavar="SPEC", help="model of the lines that name none (default: "
                       "$INTERLEAF_MODEL, else the registry default)")
    batch.add_argument("--tools", metavar="A,B", help="tools of the lines that name none (default: all)")
    batch.add_argument("--single", action="store_true", help="each line one agent run, asked as a question")
    batch.add_argument("--resume", action="store_true",
                       help="continue the last batch of FILE: run only the items that have not ended")
    batch.add_argument("--json", action="store_true", help="one JSON line per ended item on stdout")
    add_pool_options(batch, positive)


def load_worker_model(spec: str | None, threads: int) -> Model:
    """The loader every worker uses: as `agent run` loads a model, with the worker's threads
    (a python:MODULE:FACTORY model is made by its factory as it is)."""
    from agent.cli.setup import PYTHON_PREFIX, load_model

    if spec is not None and spec.startswith(PYTHON_PREFIX):
        return load_model(spec)
    return load_model(spec, threads=threads)


def open_pool(args: argparse.Namespace, err: Console) -> Pool:
    """Where the batch runs, as the options ask; says so when Ray was asked for but is missing."""
    from agent.batch.start import open_pool as start

    pool, note = start(load_worker_model, workers=args.workers, cpus=args.cpus_per_worker, ray=args.ray,
                       address=args.ray_address)
    if note:
        err.print(note, style="yellow", markup=False, soft_wrap=True)
    return pool


def cmd_batch(args: argparse.Namespace, out: Console, err: Console, store: ObjectiveStore) -> int:
    from agent.batch.driver import missing, run_batch
    from agent.batch.items import Defaults, read_items
    from agent.batch.ledger import Ledger
    from agent.cli.setup import check_environment, installed, model_spec, select_tools
    from agent.models import DEFAULT_MODEL, MODEL_ENV
    from agent.tasks import ObjectiveOptions

    check_environment()
    spec = model_spec(args.model or os.environ.get(MODEL_ENV) or None) or DEFAULT_MODEL
    options = ObjectiveOptions(tools=select_tools(installed(), args.tools), single=args.single)
    items = read_items(args.file, Defaults(model=spec, options=options))
    ledger = Ledger(store.path)
    batch_id = ledger.latest(args.file) if args.resume else ledger.start(args.file)
    if batch_id is None:
        err.print(f"agent batch: no batch of {args.file} to resume; run it without --resume", markup=False)
        return EXIT_FAILED
    todo = missing(items, ledger, batch_id)
    if args.resume:
        err.print(f"Resuming: {len(items) - len(todo)} of {len(items)} items had ended; {len(todo)} to run",
                  markup=False)
    if not todo:
        return _finish(err, ledger.items(batch_id).values(), len(items), interrupted=False)
    pool = open_pool(args, err)
    err.print(f"Running {len(todo)} item{'s' if len(todo) != 1 else ''} on {pool.description}", markup=False)
    cancel = threading.Event()
    try:
        with cancel_on_signals(cancel, _stopping), \
                closing(run_batch(todo, pool, store=store, ledger=ledger, batch_id=batch_id, cancel=cancel)) as events:
            _show(events, len(todo), out, err, as_json=args.json)
    except KeyboardInterrupt:
        cancel.set()
    finally:
        pool.close()
    return _finish(err, ledger.items(batch_id).values(), len(items), interrupted=cancel.is_set(),
                   resume=resume_command(args))


def _stopping() -> None:
    # Called from a signal handler: os.write cannot re-enter a write stderr is in.
    os.write(2, f"{STOPPING}\n".encode())


def resume_command(args: argparse.Namespace) -> str:
    """The command that continues this batch: as it was given, with --resume."""
    given = sys.argv[1:] if sys.argv[1:2] == ["batch"] else ["batch", str(args.file)]
    return shlex.join(["agent", *given, *([] if args.resume else ["--resume"])])


def _show(events: Any, total: int, out: Console, err: Console, *, as_json: bool) -> None:
    from agent.batch.driver import ItemEnded
    from agent.cli.progress import ItemsProgress

    with ItemsProgress(err, total) as progress:
        for event in events:
            if not isinstance(event, ItemEnded):
                progress.say(f"line {event.item.line}: retrying on another worker ({event.reason})")
                continue
            progress.ended(event.record.status == "done")
            if as_json:
                out.file.write(json.dumps(_item_json(event), ensure_ascii=False) + "\n")
                out.file.flush()
            elif not err.is_terminal:
                progress.say(f"line {event.item.line}: {event.record.status} (run {event.run.id})"
                             + (f": {event.record.reason}" if event.record.reason else ""))


def _item_json(event: BatchEvent) -> dict[str, Any]:
    from agent.batch.driver import ItemEnded

    assert isinstance(event, ItemEnded)
    r = event.record
    return {"line": r.line, "objective": event.item.objective, "status": r.status, "run_id": r.run_id,
            "run_status": event.run.status.value, "answer": event.run.answer, "reason": r.reason,
            "attempts": r.attempts, "seconds": round(r.seconds, 3)}


def _line(err: Console, text: str) -> None:
    err.print(text, markup=False, highlight=False, soft_wrap=True)


def _finish(err: Console, ended: Any, total: int, *, interrupted: bool, resume: str = "") -> int:
    records = list(ended)
    done = sum(r.status == "done" for r in records)
    failed = [r for r in records if r.status != "done"]
    _line(err, f"{total} items: {done} done, {len(failed)} failed, {total - len(records)} not run"
          " (`agent runs` lists the runs)")
    for record in sorted(failed, key=lambda r: r.line):
        _line(err, f"  line {record.line} failed (run {record.run_id}): {record.reason}")
    if interrupted:
        _line(err, f"Stopped; finished items are kept. Continue with: {resume}")
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failed or len(records) < total else EXIT_DONE


__all__ = ["add_parser", "cmd_batch", "load_worker_model", "open_pool"]
