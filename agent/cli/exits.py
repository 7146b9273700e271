"""How `agent run` and `agent resume` end: the exit code and the line on stderr.

    0    the run finished with an answer (the model judged it done, no task was left,
         or a budget ran out: the footer and `--json` name the stop)
    1    the run failed: the model failed, or no task finished with a result; also
         a configuration mistake (a missing model file, a bad environment variable)
    2    the command line is wrong
    130  interrupted (Ctrl-C or SIGTERM): the run is saved and can be resumed
"""

from __future__ import annotations

from collections.abc import Sequence

from typing import TYPE_CHECKING

from agent.tasks.state import ObjectiveStatus, Task, TaskStatus

if TYPE_CHECKING:
    from agent.tasks.events import ObjectiveFinished

EXIT_DONE = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def exit_code(last: ObjectiveFinished | None, tasks: Sequence[Task]) -> int:
    """The exit code of a run that ended with `last` (None: it was interrupted)."""
    if last is None or last.status is ObjectiveStatus.INTERRUPTED:
        return EXIT_INTERRUPTED
    if last.status is ObjectiveStatus.FAILED or not any(_has_result(t) for t in tasks):
        return EXIT_FAILED
    return EXIT_DONE


def failure_reason(last: ObjectiveFinished, tasks: Sequence[Task]) -> str:
    """Why a run failed, in one line: the model's error, or what became of its tasks."""
    if last.status is ObjectiveStatus.FAILED:
        return f"the run failed: {last.detail}"
    failed = [t for t in tasks if t.status is TaskStatus.FAILED]
    if failed:
        shown = "; ".join(f"task {t.id}: {t.detail or 'failed'}" for t in failed[:3])
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        return f"no task finished with a result ({shown}{more})"
    if not tasks:
        return "no task finished with a result: the plan had no task"
    return "no task finished with a result: every task wrote nothing"


def _has_result(task: Task) -> bool:
    return task.status is TaskStatus.DONE and bool(task.result.strip())
