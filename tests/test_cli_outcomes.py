"""What a run's record says, through the installed `agent` script: a task the time
budget cut off is recorded as cut off and resumes; the final answer holds only what ran;
`agent export` keeps only answers a check supports and says what it is doing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import AGENT, MODEL, agent_env

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return agent_env(tmp_path, drop=("INTERLEAF_TEST_DELAY", "INTERLEAF_TEST_CALL"))


def agent(env: dict[str, str], *argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENT, *argv], env={**env, **extra}, capture_output=True, text=True, timeout=100)


def show(env: dict[str, str], run_id: str) -> dict[str, Any]:
    shown = agent(env, "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    data: dict[str, Any] = json.loads(shown.stdout)
    return data


def last_run(env: dict[str, str]) -> str:
    listed = agent(env, "runs", "--json")
    return str(json.loads(listed.stdout.splitlines()[0])["id"])


def test_a_task_the_time_budget_cuts_off_is_cut_off_not_done_and_resumes(env: dict[str, str]) -> None:
    # Each task takes 2 s; the run may take 1 s: the first task is cut off mid-way.
    cut = agent(env, "run", "plan a trip", "--model", MODEL, "--tools", "", "--timeout", "1", "--max-tasks", "2",
                INTERLEAF_TEST_DELAY="2")
    run_id = last_run(env)
    data = show(env, run_id)
    assert data["stop_reason"] == "timeout", data
    statuses = [t["status"] for t in data["tasks"]]
    assert statuses[0] == "cut_off" and "done" not in statuses, statuses
    assert data["tasks"][0]["detail"] == "cut off by the run's time budget (1 s)"
    assert data["totals"]["tasks_run"] == 0
    # No task finished with a result: exit 1, as the README's table says, with the way on.
    assert cut.returncode == 1, (cut.stdout, cut.stderr)
    assert "Traceback" not in cut.stderr
    assert f"agent resume {run_id} --timeout SECONDS" in cut.stderr and "task 1" in cut.stderr
    assert "No task finished with a result" in cut.stdout and "task 1 cut_off" in cut.stdout

    resumed = agent(env, "resume", run_id, "--timeout", "60", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    data = show(env, run_id)
    assert [t["status"] for t in data["tasks"]][:1] == ["done"]
    assert data["tasks"][0]["result"] == "Result of book the flights."
    assert data["stop_reason"] != "timeout"


def test_the_answer_of_a_run_cut_short_lists_only_tasks_that_ran(env: dict[str, str]) -> None:
    # The first task's call spends the run's calls; the model's answer names planned tasks
    # that never ran.
    done = agent(env, "run", "plan a trip", "--model", MODEL, "--tools", "Calendar", "--max-tasks", "3",
                 "--max-calls", "1", "--quiet", INTERLEAF_TEST_CALL="[Calendar()]",
                 INTERLEAF_TEST_ANSWER="1. Book the flights.\n2. Find a hotel.\n3. List the museums.")
    assert done.returncode == 0, done.stderr
    data = show(env, last_run(env))
    assert data["stop_reason"] == "max_calls"
    assert [t["status"] for t in data["tasks"]] == ["done", "pending", "pending"]
    assert done.stdout.startswith("- book the flights: Result of book the flights: [Calendar() → Today is")
    for never_ran in ("hotel", "museums"):
        assert never_ran not in done.stdout.casefold(), done.stdout
    assert data["answer"] == done.stdout.strip()


def test_an_answer_that_keeps_to_what_ran_is_the_models(env: dict[str, str]) -> None:
    done = agent(env, "run", "plan a trip", "--model", MODEL, "--tools", "", "--max-tasks", "2", "--quiet",
                 INTERLEAF_TEST_ANSWER="Fly on Monday and sleep at the Hotel Lisboa.")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Fly on Monday and sleep at the Hotel Lisboa."


def test_export_keeps_answers_a_check_backs_and_says_what_it_does(env: dict[str, str]) -> None:
    model = ("--model", MODEL, "--single")
    used = agent(env, "run", "count the guests", *model, "--tools", "Calculator",
                 INTERLEAF_TEST_CALL="[Calculator(3 + 4)]", INTERLEAF_TEST_CARRY=" So 7 people.")
    guessed = agent(env, "run", "guess the weather", *model, "--tools", "")
    failed = agent(env, "run", "price the food", *model, "--tools", "Calculator",
                   INTERLEAF_TEST_CALL="[Calculator(1/0)]", INTERLEAF_TEST_CARRY=" So 7 people.")
    assert [r.returncode for r in (used, guessed, failed)] == [0, 0, 0], failed.stderr
    pairs = agent(env, "export", "pairs")
    assert pairs.returncode == 0, pairs.stderr
    lines = [json.loads(line) for line in pairs.stdout.splitlines()]
    assert [(p["instruction"], p["calls"]) for p in lines] == [("count the guests", 1)], lines
    assert "[Calculator(3 + 4) → 7] So 7 people." in lines[0]["output"]
    assert "1 pairs" in pairs.stderr


@pytest.mark.model
def test_export_calls_tells_what_it_is_doing(env: dict[str, str]) -> None:
    agent(env, "run", "count the guests", "--model", MODEL, "--single", "--tools", "Calculator",
          INTERLEAF_TEST_CALL="[Calculator(3 + 4)]", INTERLEAF_TEST_CARRY=" So 7 people.")
    judged = agent(env, "export", "calls", "--tau", "-100")
    assert judged.returncode == 0, judged.stderr
    assert json.loads(judged.stdout)["calls"][0]["kept"] is True
    said = judged.stderr.splitlines()
    assert said[0] == "loading smollm2-135m to score the calls…"
    assert "judged 1/1 answers (1 of 1 calls kept)" in said and said[-1].startswith("done: 1 of 1")


def test_a_budget_spent_before_any_task_ran_says_so_and_how_to_go_on(env: dict[str, str]) -> None:
    stopped = agent(env, "run", "plan a trip", "--model", MODEL, "--tools", "", "--max-tokens", "1")
    run_id = last_run(env)
    assert stopped.returncode == 1
    assert stopped.stderr.startswith("agent: no task ran before the run stopped (max_tokens: "), stopped.stderr
    assert stopped.stderr.rstrip().endswith(f"raise the limit to go on: agent resume {run_id} --max-tokens N")
    resumed = agent(env, "resume", run_id, "--max-tokens", "100000", "--max-tasks", "1", "--quiet")
    assert resumed.returncode == 0 and resumed.stdout.strip() == "The final answer.", resumed.stderr


def test_the_time_budget_stops_the_plan_too_and_resume_plans_anew(env: dict[str, str]) -> None:
    # The plan comes a chunk every 0.5 s (about 3 s in all); the run may take 1 s.
    stopped = agent(env, "run", "plan a trip", "--model", MODEL, "--tools", "", "--timeout", "1",
                    INTERLEAF_TEST_PLAN_DELAY="0.5")
    run_id = last_run(env)
    data = show(env, run_id)
    assert data["stop_reason"] == "timeout" and data["tasks"] == [], data
    assert data["totals"]["seconds"] < 2.5, data["totals"]
    assert stopped.returncode == 1 and "Traceback" not in stopped.stderr
    assert stopped.stderr.startswith("agent: no task ran before the run stopped (timeout: "), stopped.stderr
    assert "while planning the tasks" in stopped.stderr
    assert stopped.stderr.rstrip().endswith(f"raise the limit to go on: agent resume {run_id} --timeout N")
    resumed = agent(env, "resume", run_id, "--timeout", "60", "--max-tasks", "1", "--quiet")
    assert resumed.returncode == 0 and resumed.stdout.strip() == "The final answer.", resumed.stderr
    assert [t["status"] for t in show(env, run_id)["tasks"]][:1] == ["done"]


def test_a_run_the_time_budget_stopped_answers_without_the_model(env: dict[str, str]) -> None:
    # Each task takes 0.7 s and the run may take 1 s: two tasks finish, then the budget is spent.
    stopped = agent(env, "run", "plan a trip", "--model", MODEL, "--tools", "", "--timeout", "1", "--max-tasks", "4",
                    INTERLEAF_TEST_DELAY="0.7")
    data = show(env, last_run(env))
    assert data["stop_reason"] == "timeout", data
    done = [t for t in data["tasks"] if t["status"] == "done"]
    assert done and data["answer"] == "\n".join(f"- {t['text']}: {t['result']}" for t in done)
    assert "The final answer." not in stopped.stdout
    assert data["totals"]["seconds"] < 1 + 0.7 + 1.0, data["totals"]
