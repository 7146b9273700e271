"""Why a run or an objective ended: one vocabulary, in a module of its own so that what
only names a reason (the run store, the task records) loads nothing else."""

from __future__ import annotations

from enum import Enum


class StopReason(str, Enum):
    """Why a run ended: one pass of the loop, or an objective's task list."""

    END = "end"
    """The model ended its text."""
    STOP_SEQUENCE = "stop_sequence"
    MAX_CALLS = "max_calls"
    MAX_TOKENS = "max_tokens"
    TIMEOUT = "timeout"
    NO_PROGRESS = "no_progress"
    """The same call with the same arguments gave the same result too many times."""
    CANCELLED = "cancelled"
    CONTEXT_FULL = "context_full"
    MODEL_ERROR = "model_error"
    DONE = "done"
    """The model judged the objective done."""
    EMPTY = "empty"
    """No task was left to do."""
    MAX_TASKS = "max_tasks"
    MAX_COST = "max_cost"
    ERROR = "error"
    """The objective's model failed; the run can be resumed."""
