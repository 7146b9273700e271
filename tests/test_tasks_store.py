"""The SQLite store and resuming runs in-process: after a cancel, a closed generator or
a simulated crash, nothing finished is redone."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.models import ObjectiveScript

from agent.tasks import (
    ObjectiveFinished, ObjectiveNotResumable, ObjectiveOptions, ObjectiveRunner, ObjectiveStatus, ObjectiveStore, Phase,
    StopReason, TaskFinished, TaskLimits, TaskStatus, UnknownRun,
)
from agent.tasks.store import HOME_ENV, default_home

PLAN = ["book flights", "find a hotel", "list museums", "pack bags"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ObjectiveStore]:
    s = ObjectiveStore(tmp_path / "runs.sqlite3")
    yield s
    s.close()


def test_store_uses_wal_and_the_home_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    assert default_home() == tmp_path / "home"
    store = ObjectiveStore()
    assert store.path == tmp_path / "home" / "runs.sqlite3"
    mode = store._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()


def test_runs_are_found_by_unique_prefix(store: ObjectiveStore) -> None:
    a = store.create_run("one", model="m", options=ObjectiveOptions())
    assert store.run(a.id[:4]).id == a.id
    with pytest.raises(UnknownRun):
        store.run("nope")


def test_options_round_trip(store: ObjectiveStore) -> None:
    limits = TaskLimits(max_tasks=3, timeout=None, max_cost=0.5)
    options = ObjectiveOptions(limits=limits, tools=("Search",), single=True)
    run = store.create_run("x", model="m", options=options)
    assert store.run(run.id).options == options


def test_transaction_rolls_back_on_error(store: ObjectiveStore) -> None:
    run = store.create_run("x", model="m", options=ObjectiveOptions())
    with pytest.raises(RuntimeError), store.transaction():
        store.add_tasks(run.id, ["a"], origin="plan")
        raise RuntimeError
    assert store.tasks(run.id) == []


def test_cancel_then_resume_redoes_nothing_finished(store: ObjectiveStore) -> None:
    cancel = threading.Event()
    once = [True]

    def execute(task: str) -> str:
        if task == "list museums" and once:
            once.pop()
            cancel.set()
        return f"Result of {task}."

    script = ObjectiveScript(plan=PLAN, execute=execute)
    runner = script.runner(store, cancel=cancel)
    events = list(runner.run("trip", options=ObjectiveOptions(limits=TaskLimits(max_tasks=4))))
    end = events[-1]
    assert isinstance(end, ObjectiveFinished)
    assert end.status is ObjectiveStatus.INTERRUPTED and end.stop_reason is StopReason.CANCELLED
    assert store.run(end.run_id).status is ObjectiveStatus.INTERRUPTED
    statuses = {t.text: t.status for t in store.tasks(end.run_id)}
    assert statuses["find a hotel"] is TaskStatus.DONE and statuses["list museums"] is TaskStatus.PENDING

    cancel.clear()
    resumed = list(script.runner(store, cancel=cancel).events(end.run_id))
    last = resumed[-1]
    assert isinstance(last, ObjectiveFinished) and last.status is ObjectiveStatus.FINISHED
    assert script.executed == ["book flights", "find a hotel", "list museums", "list museums", "pack bags"]
    assert script.asked["plan"] == 1


def test_abandoned_generator_leaves_a_resumable_run(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=PLAN)
    events = script.runner(store).run("trip")
    seen = 0
    run_id = ""
    for event in events:
        if isinstance(event, TaskFinished):
            seen += 1
            if seen == 2:
                break
    events.close()  # type: ignore[attr-defined]
    run = store.runs()[0]
    run_id = run.id
    assert run.status is ObjectiveStatus.INTERRUPTED
    list(script.runner(store).events(run_id))
    assert script.executed == PLAN
    assert store.run(run_id).status is ObjectiveStatus.FINISHED


def test_crash_mid_task_reruns_only_that_task(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=PLAN)
    run = script.runner(store).start("trip")
    store.add_tasks(run.id, PLAN, origin="plan")
    store.update_run(run.id, phase=Phase.EXECUTING, pid=2**22 + 12345)
    store.update_task(run.id, 1, status=TaskStatus.DONE, result="booked", followed_up=True)
    store.update_task(run.id, 2, status=TaskStatus.RUNNING, attempts=1)
    events = list(script.runner(store).events(run.id))
    assert script.executed == ["find a hotel", "list museums", "pack bags"]
    assert script.asked["plan"] == 0
    assert isinstance(events[-1], ObjectiveFinished) and events[-1].status is ObjectiveStatus.FINISHED
    hotel = store.tasks(run.id)[1]
    assert hotel.attempts == 2 and hotel.status is TaskStatus.DONE


def test_follow_up_of_the_last_task_is_resumed_not_its_execution(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=["only"], create=lambda task: ["one more thing"])
    run = script.runner(store).start("trip", options=ObjectiveOptions(
        limits=TaskLimits(max_tasks=3, max_creations=1)))
    store.add_tasks(run.id, ["only"], origin="plan")
    store.update_run(run.id, phase=Phase.EXECUTING, status=ObjectiveStatus.INTERRUPTED)
    store.update_task(run.id, 1, status=TaskStatus.DONE, result="did it")
    store.update_run(run.id, totals=store.run(run.id).totals.__class__(tasks_run=1))
    list(script.runner(store).events(run.id))
    assert script.executed == ["one more thing"]
    assert script.asked["create"] == 1


def test_finished_runs_do_not_resume(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=["a"])
    end = list(script.runner(store).run("x"))[-1]
    assert isinstance(end, ObjectiveFinished)
    with pytest.raises(ObjectiveNotResumable):
        list(script.runner(store).events(end.run_id))


def test_a_run_held_by_a_live_process_is_refused(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=["a"])
    run = script.runner(store).start("x")
    store.update_run(run.id, pid=1)
    with pytest.raises(ObjectiveNotResumable, match="still running"):
        list(script.runner(store).events(run.id))


def test_elapsed_time_adds_up_across_sessions(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=["a", "b"])
    run = script.runner(store).start("x")
    store.update_run(run.id, totals=run.totals.__class__(seconds=100.0))
    end = list(script.runner(store).events(run.id))[-1]
    assert isinstance(end, ObjectiveFinished) and end.totals.seconds >= 100.0


class Broken(Exception):
    pass


def test_a_failing_planner_fails_the_run_resumably(store: ObjectiveStore) -> None:
    def fail(request: object) -> str:
        raise Broken("server down")

    from agent.testing import FunctionModel

    runner = ObjectiveRunner(model=FunctionModel(fail), store=store)
    end = list(runner.run("trip"))[-1]
    assert isinstance(end, ObjectiveFinished)
    assert end.status is ObjectiveStatus.FAILED and end.stop_reason is StopReason.ERROR and "server down" in end.detail
    script = ObjectiveScript(plan=["a"])
    again = list(script.runner(store).events(end.run_id))[-1]
    assert isinstance(again, ObjectiveFinished) and again.status is ObjectiveStatus.FINISHED


def test_a_model_error_in_a_task_puts_it_back(store: ObjectiveStore) -> None:
    broken = [True]

    def execute(task: str) -> str:
        if task == "find a hotel" and broken:
            broken.pop()
            raise Broken("connection reset")
        return f"Result of {task}."

    script = ObjectiveScript(plan=PLAN, execute=execute)
    end = list(script.runner(store).run("trip"))[-1]
    assert isinstance(end, ObjectiveFinished) and end.status is ObjectiveStatus.FAILED
    assert "connection reset" in end.detail
    assert [t.status for t in store.tasks(end.run_id)][:2] == [TaskStatus.DONE, TaskStatus.PENDING]
    again = list(script.runner(store).events(end.run_id))[-1]
    assert isinstance(again, ObjectiveFinished) and again.status is ObjectiveStatus.FINISHED
    assert script.executed.count("book flights") == 1 and script.executed.count("find a hotel") == 2
