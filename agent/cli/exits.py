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
    failed = [t for t in tasks if t.status in (TaskStatus.FAILED, TaskStatus.CUT_OFF)]
    if failed:
        shown = "; ".join(f"task {t.id}: {t.detail or 'failed'}" for t in failed[:3])
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        return f"no task finished with a result ({shown}{more})"
    from agent.cli.limits import LIMIT_FLAGS

    if not tasks and last.stop_reason.value not in LIMIT_FLAGS:
        return "no task finished with a result: the plan had no task"
    if all(t.status is TaskStatus.PENDING for t in tasks):
        return f"no task ran before the run stopped ({last.stop_reason.value}: {last.detail})"
    return "no task finished with a result: every task wrote nothing"


def failure_hint(last: ObjectiveFinished, tasks: Sequence[Task], run_id: str) -> str:
    """What the user can do about a failed run, in a clause."""
    from agent.cli.limits import LIMIT_FLAGS

    if last.status is ObjectiveStatus.FAILED:
        return f"if the cause can be fixed, resume it with: agent resume {run_id}"
    flag = LIMIT_FLAGS.get(last.stop_reason.value)
    if cut_off_hint(run_id, tasks):
        return cut_off_hint(run_id, tasks)
    if flag and (not tasks or any(t.status is TaskStatus.PENDING for t in tasks)):
        return f"raise the limit to go on: agent resume {run_id} {flag} N"
    return f"`agent show {run_id}` shows the tasks"


def cut_off_hint(run_id: str, tasks: Sequence[Task], *, named: bool = False) -> str:
    """How to go on with a run whose time budget cut a task off ("" when none was);
    `named` says first which tasks were cut off."""
    cut = [str(t.id) for t in tasks if t.status is TaskStatus.CUT_OFF]
    if not cut:
        return ""
    which = f"task {cut[0]}" if len(cut) == 1 else f"tasks {', '.join(cut)}"
    said = f"the time budget cut off {which}; " if named else ""
    return f"{said}`agent resume {run_id} --timeout SECONDS` (more than the run took) runs {which} again"


def _has_result(task: Task) -> bool:
    return task.status is TaskStatus.DONE and bool(task.result.strip())
