"""The objective loop on scripted models: planning, creation, prioritisation, termination."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from helpers.models import JSON_SCHEMA, ObjectiveScript, step_of

from agent.models.base import Request
from agent.tasks import (
    Judged, Notice, ObjectiveEvent, ObjectiveFinished, ObjectiveOptions, ObjectiveRunner, ObjectiveStatus,
    ObjectiveStore, StopReason, Task, TaskLimits, TasksCreated, TasksPlanned, TasksReordered, TaskStatus,
)
from agent.testing import FunctionModel, ScriptedModel
from agent.tools import tool


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ObjectiveStore]:
    s = ObjectiveStore(tmp_path / "runs.sqlite3")
    yield s
    s.close()


def run(source: ObjectiveScript | FunctionModel | ScriptedModel, store: ObjectiveStore,
        objective: str = "plan a trip", **limits: Any) -> list[ObjectiveEvent]:
    """The run's events: planned by the script's `ScriptedPlanner`, or by the model-backed
    planner on the model."""
    if isinstance(source, ObjectiveScript):
        runner = source.runner(store)
    else:
        runner = ObjectiveRunner(model=source, store=store)
    return list(runner.run(objective, options=ObjectiveOptions(limits=TaskLimits(**limits))))


def finished(events: list[ObjectiveEvent]) -> ObjectiveFinished:
    last = events[-1]
    assert isinstance(last, ObjectiveFinished)
    return last


def test_plan_executes_tasks_in_order_and_writes_the_answer(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=["book flights", "find a hotel"], answer="Go to Lisbon.")
    events = run(script.model(), store)
    end = finished(events)
    assert script.executed == ["book flights", "find a hotel"]
    assert end.status is ObjectiveStatus.FINISHED and end.stop_reason is StopReason.EMPTY
    assert end.answer == "Go to Lisbon."
    tasks = store.tasks(end.run_id)
    assert [t.status for t in tasks] == [TaskStatus.DONE, TaskStatus.DONE]
    assert tasks[0].result == "Result of book flights."


def test_planner_requests_carry_a_json_schema(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=["a"])
    model = script.model()
    run(model, store)
    plan_request = next(r for r in model.requests if step_of(r) == "plan")
    assert plan_request.response_schema is not None
    assert plan_request.response_schema["required"] == ["tasks"]


def test_planned_tasks_are_capped_deduplicated_and_unnumbered(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=["1. Book the flights", "book flights!", "2. find a hotel", "c", "d", "e", "f"])
    events = run(script.model(), store, max_tasks=3)
    planned = next(e for e in events if isinstance(e, TasksPlanned))
    assert [t.text for t in planned.tasks] == ["Book the flights", "find a hotel", "c"]


def test_malformed_plan_is_retried_then_parsed(store: ObjectiveStore) -> None:
    replies = iter(["not json at all", '```json\n{"tasks": ["only task"]}\n```'])
    script = ObjectiveScript(plan=lambda request: next(replies))
    events = run(script.model(), store)
    assert script.asked["plan"] == 2
    assert script.executed == ["only task"]
    assert any(isinstance(e, Notice) for e in events)


def test_malformed_plan_falls_back_to_the_objective(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=lambda request: '{"steps": 3}')
    events = run(script.model(), store, plan_retries=2)
    assert script.asked["plan"] == 3
    planned = next(e for e in events if isinstance(e, TasksPlanned))
    assert planned.fallback and [t.text for t in planned.tasks] == ["plan a trip"]
    assert script.executed == ["plan a trip"]
    assert finished(events).status is ObjectiveStatus.FINISHED


def test_retry_prompt_says_what_was_wrong(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=lambda request: "[1, 2")
    model = script.model()
    run(model, store, plan_retries=1)
    plans = [r for r in model.requests if step_of(r) == "plan"]
    assert "not valid JSON" in plans[1].prompt.user and plans[1].temperature > 0


def test_model_that_always_wants_more_tasks_still_ends(store: ObjectiveStore) -> None:
    counter = iter(range(10_000))

    def more(task: Task) -> list[str]:
        return [f"new idea {n} about {'xyz' * n} topic {n * 7}" for n in (next(counter), next(counter))]

    script = ObjectiveScript(plan=["start"], create=more)
    events = run(script, store, max_tasks=50, max_creations=1000, new_per_creation=2, timeout=None)
    end = finished(events)
    assert end.status is ObjectiveStatus.FINISHED
    assert end.stop_reason in (StopReason.MAX_TASKS, StopReason.EMPTY)
    assert end.detail
    assert len(script.executed) <= 50
    assert sum(isinstance(e, TasksCreated) for e in events) <= 50


def test_created_tasks_never_exceed_the_task_budget(store: ObjectiveStore) -> None:
    n = iter(range(1000))
    script = ObjectiveScript(plan=["one", "two"], create=lambda task: [f"fresh topic {next(n)} {'q' * next(n)}"] * 1)
    events = run(script, store, max_tasks=4, max_creations=10)
    tasks = store.tasks(finished(events).run_id)
    assert len(tasks) <= 4
    assert all(t.status is TaskStatus.DONE for t in tasks)


def test_creation_budget_per_run(store: ObjectiveStore) -> None:
    n = iter(range(1000))
    script = ObjectiveScript(plan=["one"], create=lambda task: [f"topic {next(n)} {'w' * next(n)}"])
    events = run(script, store, max_tasks=20, max_creations=2)
    assert script.asked["create"] == 2
    assert finished(events).stop_reason is StopReason.EMPTY


def test_duplicate_proposals_are_dropped(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=["book the flights", "find a hotel"],
                             create=lambda task: ["Book the flights.", "find hotel", "buy travel insurance"])
    events = run(script, store, max_tasks=10, max_creations=1)
    created = next(e for e in events if isinstance(e, TasksCreated))
    assert [t.text for t in created.tasks] == ["buy travel insurance"]
    assert set(created.dropped) == {"Book the flights.", "find hotel"}


def test_no_creation_after_a_task_without_new_information(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=["a", "b"], execute=lambda task: "same", create=lambda task: ["other thing"])
    run(script, store, max_tasks=10, max_creations=5)
    assert script.asked["create"] == 1


def test_prioritisation_reorders_pending_tasks(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=["first", "second", "third"], create=lambda task: ["urgent extra"],
                             order=lambda ids: [4, 3])
    events = run(script, store, max_tasks=10, max_creations=1)
    reordered = next(e for e in events if isinstance(e, TasksReordered))
    assert reordered.order == (4, 3, 2)
    assert script.executed == ["first", "urgent extra", "third", "second"]


def test_bad_prioritisation_keeps_the_order(store: ObjectiveStore) -> None:
    def fn(request: Request) -> str:
        return "nonsense" if step_of(request) == "prioritise" else script(request)

    script = ObjectiveScript(plan=["first", "second"], create=lambda task: ["third thing"])
    run(FunctionModel(fn, capabilities=JSON_SCHEMA), store, max_tasks=10, max_creations=1)
    assert script.executed == ["first", "second", "third thing"]


def test_done_judgement_ends_the_run(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=["only"], judge=lambda: True, create=lambda task: ["never"])
    events = run(script, store, max_tasks=10)
    end = finished(events)
    assert end.stop_reason is StopReason.DONE
    assert any(isinstance(e, Judged) and e.done for e in events)
    assert script.asked["create"] == 0


@pytest.mark.parametrize(("limits", "reason"), [
    ({"max_tasks": 2}, StopReason.MAX_TASKS),
    ({"max_tokens": 5}, StopReason.MAX_TOKENS),
    ({"timeout": 1e-9}, StopReason.TIMEOUT),
])
def test_budgets_end_the_run_with_a_reason(store: ObjectiveStore, limits: dict[str, Any], reason: StopReason) -> None:
    script = ObjectiveScript(plan=["a", "b", "c", "d"])
    end = finished(run(script, store, **limits))
    assert end.stop_reason is reason and end.status is ObjectiveStatus.FINISHED and end.detail


def test_call_budget_counts_tool_calls(store: ObjectiveStore) -> None:
    @tool
    def Echo(text: str) -> str:
        """Say it back."""
        return text

    script = ObjectiveScript(plan=["a", "b", "c"], execute=lambda task: f"Echo: [Echo({task})] ok")
    runner = script.runner(store, tools=[Echo])
    end = finished(list(runner.run("x", options=ObjectiveOptions(limits=TaskLimits(max_calls=2)))))
    assert end.stop_reason is StopReason.MAX_CALLS
    assert end.totals.tool_calls == 2
    assert "[Echo(a) → a]" in store.tasks(end.run_id)[0].result


def test_cost_budget_for_a_priced_model(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=["a", "b", "c"], execute=lambda task: "x" * 4000)
    model = FunctionModel(script, name="gpt-4o", chunk_size=4, capabilities=JSON_SCHEMA)
    end = finished(run(model, store, max_cost=0.001, task_tokens=1000, max_tokens=100_000))
    assert end.stop_reason is StopReason.MAX_COST
    assert end.totals.cost is not None and end.totals.cost >= 0.001


def test_unknown_price_has_no_cost(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=["a"])
    end = finished(run(script, store, max_cost=0.0001))
    assert end.totals.cost is None and end.stop_reason is StopReason.EMPTY


def test_context_of_later_tasks_is_bounded(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=[f"task number {i}" for i in range(8)], execute=lambda task: "y" * 3000)
    model = script.model()
    run(model, store, max_tasks=8, context_chars=1000, task_tokens=10_000, max_tokens=1_000_000)
    prompts = [r.prompt.user for r in model.requests if step_of(r) == "task"]
    assert len(prompts) == 8
    assert max(len(p) for p in prompts) < 1400


def test_single_mode_runs_the_objective_once(store: ObjectiveStore) -> None:
    script = ObjectiveScript(execute=lambda task: "Forty-two.")
    runner = script.runner(store)
    events = list(runner.run("what is six times seven", options=ObjectiveOptions(single=True)))
    assert script.executed == ["what is six times seven"]
    assert script.asked["plan"] == 0 and script.asked["answer"] == 0
    assert finished(events).answer == "Forty-two."


def test_transcript_is_stored_as_json(store: ObjectiveStore) -> None:
    script = ObjectiveScript(plan=["a"])
    end = finished(run(script, store))
    types = [e["type"] for e in store.events(end.run_id)]
    assert types[0] == "run_started" and types[-1] == "objective_finished"
    assert "tasks_planned" in types and "task_finished" in types
    json.dumps(store.events(end.run_id))


@given(max_tasks=st.integers(1, 8), creations=st.integers(0, 6), per=st.integers(1, 4),
       planned=st.integers(1, 6), done_after=st.integers(0, 10))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_run_ends_within_its_task_budget(tmp_path_factory: pytest.TempPathFactory, max_tasks: int,
                                             creations: int, per: int, planned: int, done_after: int) -> None:
    counter = iter(range(100_000))
    script = ObjectiveScript(plan=[f"planned step {i}" for i in range(planned)],
                             create=lambda task: [f"idea {next(counter)}" for _ in range(5)],
                             judge=lambda: len(script.executed) >= done_after)
    store = ObjectiveStore(tmp_path_factory.mktemp("runs") / "runs.sqlite3")
    end = finished(run(script, store, max_tasks=max_tasks, max_creations=creations, new_per_creation=per))
    assert end.status is ObjectiveStatus.FINISHED and end.detail
    assert 1 <= len(script.executed) <= max_tasks
    assert script.asked["create"] <= creations
    assert len(store.tasks(end.run_id)) <= max_tasks


def test_totals_keep_the_evaluated_prompt_tokens_of_every_step(store: ObjectiveStore) -> None:
    end = finished(run(ObjectiveScript(plan=["a", "b"]).model(), store))
    totals = end.totals
    assert 0 < totals.evaluated_tokens <= totals.prompt_tokens
    assert totals.requests >= 4
    assert store.run(end.run_id).totals.evaluated_tokens == totals.evaluated_tokens
