"""`agent resume RUN --max-tasks 10`: new limits for a stored run, and reopening a run
that one of them stopped."""

from __future__ import annotations

import argparse
from dataclasses import replace

from agent.events import StopReason
from agent.tasks import TaskLimits, ObjectiveNotResumable, ObjectiveStatus, ObjectiveStore
from agent.tasks.budget import budget_stop
from agent.tasks.state import ObjectiveRecord

LIMIT_FLAGS = {"max_tasks": "--max-tasks", "max_calls": "--max-calls", "max_tokens": "--max-tokens",
               "timeout": "--timeout", "max_cost": "--max-cost"}
"""The run's limits that `agent run` sets and `agent resume` may change."""

BUDGET_STOPS = {StopReason.MAX_TASKS, StopReason.MAX_CALLS, StopReason.MAX_TOKENS, StopReason.TIMEOUT,
                StopReason.MAX_COST}


def new_limits(args: argparse.Namespace, limits: TaskLimits) -> TaskLimits:
    """`limits` with the ones given on the command line."""
    given = {name: getattr(args, name) for name in LIMIT_FLAGS if getattr(args, name, None) is not None}
    return replace(limits, **given)


def apply_limits(store: ObjectiveStore, record: ObjectiveRecord, args: argparse.Namespace) -> ObjectiveRecord:
    """Store the limits given to `agent resume`; a run that a budget stopped is reopened
    when the new limits leave room, and refused with the reason otherwise."""
    limits = new_limits(args, record.options.limits)
    changed = limits != record.options.limits
    if record.status is ObjectiveStatus.FINISHED:
        stopped_by_budget = record.stop_reason in BUDGET_STOPS
        if not stopped_by_budget or not changed:
            reason = record.stop_reason.value if record.stop_reason else "finished"
            hint = f"; raise its {_flag(record.stop_reason)} to go on" if stopped_by_budget else ""
            raise ObjectiveNotResumable(f"run {record.id} already finished ({reason}){hint}; "
                                  f"`agent show {record.id}` shows it")
        still = budget_stop(record.totals, limits)
        if still is not None:
            raise ObjectiveNotResumable(f"run {record.id} would stop at once: {still[1]} ({_flag(still[0])})")
    if changed:
        store.update_options(record.id, replace(record.options, limits=limits))
    if record.status is ObjectiveStatus.FINISHED:
        store.reopen(record.id)
    return store.run(record.id)


def _flag(reason: StopReason | None) -> str:
    name = reason.value if reason is not None else ""
    return LIMIT_FLAGS.get(name, name)
