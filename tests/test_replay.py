"""Replaying stored runs: the installed `agent replay` and `ReplayModel.from_run` give
the recorded calls, results and answer; a replay that diverges says at which step and how."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from helpers.recorded import OBJECTIVE, agent, agent_env, make_model, record_run

from agent.agent import Agent
from agent.cli.setup import installed
from agent.replay import NotReplayable, ReplayModel, replay
from agent.tasks import ObjectiveFinished, ObjectiveOptions, ObjectiveRunner, ObjectiveStore
from agent.tasks.recording import MODEL_OUTPUT
from agent.tools import tool

pytestmark = pytest.mark.timeout(120)


@tool
def Calculator(expression: str) -> str:
    """Evaluate an arithmetic expression."""
    return "42"


def stored_run(tmp_path: Path) -> tuple[ObjectiveStore, str]:
    store = ObjectiveStore(tmp_path / "runs.sqlite3")
    runner = ObjectiveRunner(model=make_model(), store=store, tools=installed())
    events = list(runner.run(OBJECTIVE, options=ObjectiveOptions(tools=("Calculator",))))
    return store, events[0].run_id  # type: ignore[attr-defined]


def edit_events(db: Path, run_id: str, sql: str, *params: object) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(sql, (*params, run_id))


def test_agent_replay_gives_the_recorded_calls_results_and_answer(tmp_path: Path) -> None:
    env = agent_env(tmp_path / "home")
    run_id = record_run(env)
    for flags in ([], ["--live-tools"]):
        done = agent(env, "replay", run_id, *flags)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "matches the recording" in done.stdout and "10 model requests, 3 calls" in done.stdout
    data = json.loads(agent(env, "replay", run_id, "--json").stdout)
    assert data["matches"] and data["calls"] == 3 and data["answer"] == "Each of the two pays 100.25 euros."
    assert data["divergences"] == []


def test_a_tool_whose_result_changed_makes_the_replay_diverge_at_that_call(tmp_path: Path) -> None:
    env = agent_env(tmp_path / "home")
    run_id = record_run(env)
    edit_events(tmp_path / "home" / "runs.sqlite3", run_id,
                "UPDATE events SET data = replace(data, '\"result\": \"200.5\"', '\"result\": \"199\"') "
                "WHERE type = 'task_output' AND run_id = ?")
    done = agent(env, "replay", run_id, "--live-tools")
    assert done.returncode == 1
    first = done.stdout.splitlines()[0]
    assert "diverged at step 3 (task 1, call 1 Calculator(120 + 80.5))" in first, done.stdout
    assert "the recording has Calculator(120 + 80.5) with the result '199'" in first
    assert "the replay Calculator(120 + 80.5) with the result '200.5'" in first
    played = agent(env, "replay", run_id)  # the edited result is played back, but the model was not asked with it
    assert played.returncode == 1
    assert "(model request 3, task 1)" in played.stdout.splitlines()[0]
    assert "the text it continues differs" in played.stdout.splitlines()[0]


def test_replay_model_from_run_plays_back_every_output(tmp_path: Path) -> None:
    store, run_id = stored_run(tmp_path)
    model = ReplayModel.from_run(store, run_id)
    assert model.name == "recorded-objective" and model.capabilities.structured == ("json_schema",)
    assert len(model.outputs) == 10
    assert model.outputs[1].text == "The total is [Calculator(120 + 80.5)" and model.outputs[1].task_id == 1
    fresh = ObjectiveStore(tmp_path / "again.sqlite3")
    runner = ObjectiveRunner(model=model, store=fresh, tools=installed())
    events = list(runner.run(OBJECTIVE, options=ObjectiveOptions(tools=("Calculator",))))
    again = events[-1]
    assert isinstance(again, ObjectiveFinished)
    assert again.answer == store.run(run_id).answer
    assert [t.result for t in fresh.tasks(again.run_id)] == [t.result for t in store.tasks(run_id)]
    assert model.remaining == 0 and model.differences == []


def test_a_changed_tool_is_named_with_the_step_and_the_prompt_that_differs(tmp_path: Path) -> None:
    store, run_id = stored_run(tmp_path)
    report = replay(store, run_id, tools=[Calculator], live_tools=True)
    assert not report.matches
    first = report.divergences[0]
    assert (first.step, first.where) == (3, "task 1, call 1 Calculator(120 + 80.5)")
    assert "'200.5'" in first.recorded and "'42'" in first.replayed
    assert any("system prompt differs" in d.replayed for d in report.divergences)
    assert replay(store, run_id, tools=installed()).matches


def test_a_replay_that_asks_for_more_than_was_recorded_fails_at_the_answer(tmp_path: Path) -> None:
    store, run_id = stored_run(tmp_path)
    edit_events(store.path, run_id, "DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events "
                "WHERE type = ? AND run_id = ?2) AND run_id = ?2", MODEL_OUTPUT)
    report = replay(ObjectiveStore(store.path), run_id, tools=installed())
    assert not report.matches
    assert report.divergences[-1].where == "the answer"
    assert "'failed'" in report.divergences[-1].replayed and report.requests == 10


def test_a_run_stored_without_model_outputs_is_readable_but_not_replayable(tmp_path: Path) -> None:
    env = agent_env(tmp_path / "home")
    run_id = record_run(env)
    edit_events(tmp_path / "home" / "runs.sqlite3", run_id, "DELETE FROM events WHERE type IN "
                "('model_output', 'model_info') AND run_id = ?")
    done = agent(env, "replay", run_id)
    assert done.returncode == 1 and "keeps no model outputs" in done.stderr and "Traceback" not in done.stderr
    assert agent(env, "show", run_id).returncode == 0
    with pytest.raises(NotReplayable):
        ReplayModel.from_run(ObjectiveStore(tmp_path / "home" / "runs.sqlite3"), run_id)


def test_an_agent_alone_can_run_on_replayed_outputs(tmp_path: Path) -> None:
    store, run_id = stored_run(tmp_path)
    model = ReplayModel.from_run(store, run_id)
    model.requests = 1  # the first task's three requests
    result = Agent(model=model, tools=installed(), purpose="task").run("add the prices")
    assert [c.result or c.error for c in result.calls] == ["200.5", "division by zero"]


def test_a_run_whose_model_failed_replays_to_the_same_failure(tmp_path: Path) -> None:
    env = agent_env(tmp_path / "home")
    failed = agent(env, "run", "plan a trip", "--model", "python:helpers.models:make_broken_model", "--tools", "")
    assert failed.returncode == 1 and "ConnectionError: the server is down" in failed.stderr
    run_id = json.loads(agent(env, "runs", "--json").stdout.splitlines()[0])["id"]
    done = agent(env, "replay", run_id, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["matches"] and data["requests"] == 1
