"""`agent export pairs|calls`: fine-tuning data from the saved runs on stdout (JSON
Lines); what is being done, and how far it got, on stderr."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from agent.cli.commands import Consoles
    from agent.finetune import Pair


def cmd_export(args: argparse.Namespace, consoles: Consoles) -> int:
    from agent.cli.commands import open_store
    from agent.finetune import stored_pairs, to_jsonl

    store = open_store(args.home)
    pairs = list(stored_pairs(store))
    if args.kind == "pairs":
        for line in to_jsonl(pairs):
            _write(consoles, line)
        _say(consoles, f"{len(pairs)} pairs: finished tasks whose answer a check backs (a call whose result "
                       f"it uses, or a computed value), from {store.path}")
        return 0
    return _export_calls(args, consoles, [p for p in pairs if p.calls])


def _export_calls(args: argparse.Namespace, consoles: Consoles, pairs: list[Pair]) -> int:
    from agent.finetune import judged_text

    if not pairs:
        _say(consoles, "no saved answer with a call that a check backs: nothing to judge")
        return 0
    _say(consoles, f"loading {args.model} to score the calls…")
    from agent.models.llama_scorer import LlamaScorer

    scorer = LlamaScorer.named(args.model)
    calls = sum(p.calls for p in pairs)
    _say(consoles, f"judging {calls} calls in {len(pairs)} answers: a call is kept when its result lowers "
                   f"the loss of the next tokens by at least {args.tau:g}")
    kept = judged = 0
    with _progress(consoles, len(pairs)) as advance:
        for n, pair in enumerate(pairs, 1):
            line = judged_text(pair.output, scorer, tau=args.tau)
            found = line["calls"]
            verdicts = [v for v in found if isinstance(v, dict)] if isinstance(found, list) else []
            judged += len(verdicts)
            kept += sum(1 for v in verdicts if v.get("kept"))
            _write(consoles, json.dumps(line, ensure_ascii=False))
            advance(n, f"{kept} of {judged} calls kept")
    _say(consoles, f"done: {kept} of {judged} judged calls kept in {len(pairs)} answers")
    return 0


@contextmanager
def _progress(consoles: Consoles, total: int) -> Iterator[Callable[[int, str], None]]:
    """A callback taking (answers done, what was kept): a progress bar on a terminal, a
    line per answer elsewhere."""
    if not consoles.err.is_terminal:
        yield lambda n, note: _say(consoles, f"judged {n}/{total} answers ({note})")
        return
    columns = (TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
               TimeElapsedColumn())
    with Progress(*columns, console=consoles.err, transient=True) as progress:
        bar = progress.add_task("", total=total)
        yield lambda n, note: progress.update(bar, completed=n, description=note)


def _write(consoles: Consoles, line: str) -> None:
    consoles.out.print(line, markup=False, highlight=False, soft_wrap=True)


def _say(consoles: Consoles, message: str) -> None:
    consoles.err.print(message, markup=False, highlight=False, soft_wrap=True, style="dim")
