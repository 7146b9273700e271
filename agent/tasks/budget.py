"""The run's budgets as pure checks over its totals and limits."""

from __future__ import annotations

from agent.events import RunResult, StopReason
from agent.tasks.state import TaskLimits, TaskStatus, Totals

Stop = tuple[StopReason, str]


def budget_stop(totals: Totals, limits: TaskLimits) -> Stop | None:
    """The first budget that is spent, with the reason in words; None while all last."""
    t, lim = totals, limits
    if t.tasks_run >= lim.max_tasks:
        return StopReason.MAX_TASKS, f"{t.tasks_run} tasks ran, the limit"
    if t.tool_calls >= lim.max_calls:
        return StopReason.MAX_CALLS, f"{t.tool_calls} tool calls made of at most {lim.max_calls}"
    if t.completion_tokens >= lim.max_tokens:
        return StopReason.MAX_TOKENS, f"{t.completion_tokens} tokens written of at most {lim.max_tokens}"
    spent = time_stop(t, lim)
    if spent is not None:
        return spent
    if lim.max_cost is not None and t.cost is not None and t.cost >= lim.max_cost:
        return StopReason.MAX_COST, f"the run cost ${t.cost:.4f} of at most ${lim.max_cost:g}"
    return None


def time_stop(totals: Totals, limits: TaskLimits) -> Stop | None:
    """The time budget's stop once the run's seconds reach it; None before."""
    if limits.timeout is not None and totals.seconds >= limits.timeout:
        return StopReason.TIMEOUT, f"the run took {totals.seconds:.0f} s of at most {limits.timeout:g} s"
    return None


def plan_cut_off(totals: Totals, limits: TaskLimits) -> Stop:
    """The stop when the time budget ran out while the tasks were being planned."""
    spent = time_stop(totals, limits)
    return StopReason.TIMEOUT, f"{spent[1] if spent else 'the time budget ran out'}, while planning the tasks"


def task_outcome(result: RunResult, totals: Totals, limits: TaskLimits) -> tuple[TaskStatus, str]:
    """The status an agent run that ended leaves its task in, and why in words: cut off
    when the run's time budget stopped it (it runs again from its start on resume),
    failed when the context filled up, done otherwise."""
    if result.stop_reason is StopReason.TIMEOUT and time_stop(totals, limits) is not None:
        return TaskStatus.CUT_OFF, f"cut off by the run's time budget ({limits.timeout:g} s)"
    if result.stop_reason is StopReason.CONTEXT_FULL:
        return TaskStatus.FAILED, result.detail
    return TaskStatus.DONE, result.detail


def room_for_new_tasks(totals: Totals, limits: TaskLimits, *, pending: int) -> int:
    """New tasks allowed now: at most `new_per_creation`, and never more than the
    executions left once the pending tasks have run, so the list always runs dry."""
    left = limits.max_tasks - totals.tasks_run - pending
    return max(0, min(limits.new_per_creation, left))


def task_budget(totals: Totals, limits: TaskLimits) -> tuple[int, int, float]:
    """(calls, tokens, seconds) the next task's agent may use."""
    calls = min(limits.task_calls, limits.max_calls - totals.tool_calls)
    tokens = min(limits.task_tokens, limits.max_tokens - totals.completion_tokens)
    seconds = limits.task_timeout if limits.timeout is None else min(limits.task_timeout,
                                                                     limits.timeout - totals.seconds)
    return max(calls, 1), max(tokens, 1), max(seconds, 0.001)
