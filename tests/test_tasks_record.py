"""The store keeps what each task wrote as typed parts: a call's bound arguments, its
result or error and its timing come back as they were, whatever the result says; a run
stored before parts were kept is read from its text."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from helpers.models import ObjectiveScript

from agent.finetune import stored_pairs
from agent.parts import CallRecord, Spliced, head, rendered
from agent.tasks import ObjectiveOptions, ObjectiveStore, TaskLimits, TaskStatus
from agent.tasks.state import written
from agent.tools import tool


@tool
def Echo(text: str) -> str:
    """Say it back."""
    return text


@tool
def Broken(text: str) -> str:
    """Always fails."""
    raise RuntimeError("bad ] thing")


def test_a_finished_task_keeps_its_parts(tmp_path: Path) -> None:
    script = ObjectiveScript(plan=["echo it"], execute=lambda task: 'Said: [Echo(text="a] → b")]',
                             carry_on=" So it said a] → b.")
    with closing(ObjectiveStore(tmp_path / "runs.sqlite3")) as store:
        run = list(script.runner(store, tools=[Echo]).run("echo", options=ObjectiveOptions(
            limits=TaskLimits(max_tasks=1))))[-1]
        [task] = store.tasks(run.run_id)
    assert task.status is TaskStatus.DONE
    calls = [p for p in task.parts if isinstance(p, CallRecord)]
    assert [(c.name, c.arguments, c.result, c.error) for c in calls] == [("Echo", {"text": "a] → b"}, "a] → b", None)]
    assert rendered(task.parts).strip() == task.result
    assert written(task) == task.parts


def test_a_failed_call_is_kept_as_an_error_part(tmp_path: Path) -> None:
    script = ObjectiveScript(plan=["try it"], execute=lambda task: 'Tried: [Broken(text="x")]', carry_on=" No luck.")
    with closing(ObjectiveStore(tmp_path / "runs.sqlite3")) as store:
        run = list(script.runner(store, tools=[Broken]).run("try", options=ObjectiveOptions(
            limits=TaskLimits(max_tasks=1))))[-1]
        [task] = store.tasks(run.run_id)
        pairs = list(stored_pairs(store))
    [call] = [p for p in task.parts if isinstance(p, CallRecord)]
    assert call.result is None and call.error is not None and "bad ] thing" in call.error
    assert pairs == [], "an answer a failed call fed is not exported"


def test_a_store_made_before_parts_were_kept_opens_and_reads_them_from_text(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE tasks (
                run_id TEXT NOT NULL, id INTEGER NOT NULL, text TEXT NOT NULL, position INTEGER NOT NULL,
                status TEXT NOT NULL, result TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '',
                origin TEXT NOT NULL, parent INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
                followed_up INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, id));
            INSERT INTO tasks (run_id, id, text, position, status, result, origin)
                VALUES ('r1', 1, 'add', 0, 'done', 'It is [Calculator(2 + 3) → 5] 5.', 'plan');
        """)
    with closing(ObjectiveStore(path)) as store:
        [task] = store.tasks("r1")
    assert task.parts == ()
    parts = written(task)
    assert [p.result for p in parts if isinstance(p, CallRecord)] == ["5"]
    assert rendered(parts) == task.result


def test_head_keeps_whole_calls_and_cuts_text() -> None:
    call = CallRecord(0, "Echo", '"x"', '[Echo("x") → x]', result="x")
    parts = ("Hi ", call, " and more", Spliced("7"))
    assert head(parts, 3 + len(call.text) + 4) == ("Hi ", call, " and")
    assert head(parts, 5) == ("Hi ",), "a call that does not fit whole is left out"
    assert head(parts, 1000) == parts


def test_a_task_cut_for_repeating_itself_keeps_parts_that_match_its_result(tmp_path: Path) -> None:
    script = ObjectiveScript(plan=["echo it"], execute=lambda task: 'Said [Echo(text="hi")]',
                             carry_on=" then:\n" + "the same line again\n" * 6)
    with closing(ObjectiveStore(tmp_path / "runs.sqlite3")) as store:
        run = list(script.runner(store, tools=[Echo]).run("echo", options=ObjectiveOptions(
            limits=TaskLimits(max_tasks=1))))[-1]
        [task] = store.tasks(run.run_id)
    assert task.detail == "the model started repeating itself" and task.result.count("the same line") < 6
    assert rendered(task.parts).strip() == task.result
    assert [p.result for p in task.parts if isinstance(p, CallRecord)] == ["hi"]
