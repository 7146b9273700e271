"""`agent replay RUN`: the stored run played back, and how it compares."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from rich.console import Console

from agent.cli.exits import EXIT_DONE, EXIT_FAILED
from agent.tasks.store import ObjectiveStore


def cmd_replay(args: argparse.Namespace, out: Console, err: Console, store: ObjectiveStore) -> int:
    from agent.cli.setup import installed
    from agent.replay import replay
    from agent.trace.setup import observers_from_env

    warnings: list[str] = []
    tools = installed(warnings)
    with observers_from_env() as tracing:
        report = replay(store, args.run_id, tools=tools, live_tools=args.live_tools, observers=tracing.observers)
    if args.json:
        data = {"run_id": report.run_id, "live_tools": report.live_tools, "matches": report.matches,
                "requests": report.requests, "steps": len(report.replayed), "calls": report.calls,
                "answer": report.answer, "divergences": [asdict(d) for d in report.divergences]}
        out.file.write(json.dumps(data, ensure_ascii=False) + "\n")
    else:
        for warning in warnings:
            err.print(f"warning: {warning}", style="yellow", markup=False, soft_wrap=True)
        out.print(report.summary(), markup=False, highlight=False, soft_wrap=True)
        for divergence in report.divergences[1:]:
            out.print(f"  {divergence}", markup=False, highlight=False, soft_wrap=True)
    return EXIT_DONE if report.matches else EXIT_FAILED
