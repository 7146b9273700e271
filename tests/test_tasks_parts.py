"""The pieces of the objective loop: approval, similarity, structured output, context,
prices, events as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers.models import ObjectiveScript

from agent.agent import Agent
from agent.events import TextDelta
from agent.models.base import Capabilities, Usage
from agent.tasks import (
    DECLINED, Approve, ObjectiveFinished, ObjectiveOptions, ObjectiveStore, Task, TaskLimits, TaskOutput, TaskStatus,
    Totals, approved_tools, to_json,
)
from agent.tasks.context import results_context
from agent.tasks.metering import cost_of, price_of
from agent.tasks.planner import parse_judgement, parse_order, parse_tasks, reorder
from agent.tasks.similarity import dedupe, normalise, similarity
from agent.tasks.structured import ask_structured, decode_json
from agent.testing import FunctionModel, ScriptedModel
from agent.tools import Tool, tool


@tool
def python(code: str) -> str:
    """Run Python."""
    return "ran"


@tool
def Echo(text: str) -> str:
    """Say it back."""
    return text


@tool
async def Later(text: str) -> str:
    """Say it back, asynchronously."""
    return text.upper()


class Recorder:
    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, arguments: Mapping[str, Any]) -> bool:
        self.asked.append((name, dict(arguments)))
        return self.answer


def run_agent(tools: list[Tool], text: str) -> str:
    agent = Agent(model=ScriptedModel([text, " done"]), tools=tools)
    return agent.run("go").text


def test_declined_call_becomes_an_error_in_the_text() -> None:
    approve = Recorder(False)
    tools = approved_tools([Echo], Approve.ALL, approve)
    text = run_agent(tools, "[Echo(hi)]")
    assert f"Error: {DECLINED}" in text
    assert approve.asked == [("Echo", {"text": "hi"})]


def test_approved_call_runs() -> None:
    approve = Recorder(True)
    assert "[Echo(hi) → hi]" in run_agent(approved_tools([Echo], Approve.ALL, approve), "[Echo(hi)]")


def test_async_tools_are_wrapped_too() -> None:
    approve = Recorder(True)
    assert "[Later(hi) → HI]" in run_agent(approved_tools([Later], Approve.ALL, approve), "[Later(hi)]")


def test_python_policy_asks_only_for_python() -> None:
    approve = Recorder(False)
    tools = approved_tools([Echo, python], Approve.PYTHON, approve)
    assert "[Echo(hi) → hi]" in run_agent(tools, "[Echo(hi)]")
    assert DECLINED in run_agent(tools, "[python(1)]")
    assert [name for name, _ in approve.asked] == ["python"]


def test_no_policy_leaves_tools_alone() -> None:
    assert approved_tools([Echo], Approve.NONE, None) == [Echo]


def test_runner_applies_the_stored_policy(tmp_path: Path) -> None:
    approve = Recorder(False)
    script = ObjectiveScript(plan=["echo"], execute=lambda task: "[Echo(x)]")
    runner = script.runner(ObjectiveStore(tmp_path / "r.db"), tools=[Echo], approve=approve)
    events = list(runner.run("x", options=ObjectiveOptions(approve=Approve.ALL, limits=TaskLimits(task_calls=1))))
    assert approve.asked and isinstance(events[-1], ObjectiveFinished)
    assert DECLINED in runner.store.tasks(events[-1].run_id)[0].result


@pytest.mark.parametrize(("a", "b"), [
    ("Book the flights.", "book flights!"), ("find a hotel", "Find hotels"), ("1. Visit Belém", "visit belem"),
])
def test_near_duplicates(a: str, b: str) -> None:
    assert similarity(a, b) >= 0.8


@pytest.mark.parametrize(("a", "b"), [
    ("plan day 1", "plan day 2"), ("book flights", "pack the bags"), ("find a hotel", "find a restaurant nearby"),
])
def test_different_tasks(a: str, b: str) -> None:
    assert similarity(a, b) < 0.8


def test_dedupe_keeps_order_and_drops_empty() -> None:
    kept, dropped = dedupe(["a new thing", "  ", "A new thing!", "other"], ["existing"])
    assert kept == ["a new thing", "other"] and dropped == ["", "A new thing!"]
    assert normalise("  2) Héllo,   World ") == "hello world"


def test_decode_json_finds_wrapped_objects() -> None:
    assert decode_json('Sure! ```json\n{"a": 1}\n```') == {"a": 1}
    assert decode_json("[1, 2]") == [1, 2]
    assert decode_json("{broken") is None


def test_parsers_reject_the_wrong_shape() -> None:
    assert parse_tasks({"tasks": ["a", " ", "2. b"]}, allow_empty=False) == ["a", "b"]
    assert parse_tasks({"tasks": []}, allow_empty=False) is None
    assert parse_tasks({"tasks": []}, allow_empty=True) == []
    assert parse_tasks({"tasks": [1]}, allow_empty=True) is None
    assert parse_order({"order": [2, 1]}) == [2, 1] and parse_order({"order": [True]}) is None
    judged = parse_judgement({"done": True, "reason": " ok "})
    assert judged is not None and judged.done and judged.reason == "ok"
    assert parse_judgement({"done": "yes"}) is None


def test_reorder_ignores_unknown_ids_and_keeps_the_rest() -> None:
    pending = [Task(id=i, text=str(i), position=i) for i in (2, 3, 4)]
    assert reorder(pending, [4, 9, 4]) == [4, 2, 3]


def test_ask_structured_is_bounded() -> None:
    model = FunctionModel(lambda request: "no", capabilities=Capabilities(structured=("json_schema",)))
    out = ask_structured(model, system="s", user="u", schema={"type": "object"}, parse=lambda d: d,
                         max_tokens=50, retries=3)
    assert out.value is None and out.attempts == 4 and len(model.requests) == 4
    assert all(r.response_schema == {"type": "object"} for r in model.requests)
    assert out.usage.requests == 4


def test_results_context_is_bounded_and_recent_first() -> None:
    tasks = [Task(id=i, text=f"task {i}", position=i, status=TaskStatus.DONE, result="r" * 1000) for i in range(1, 30)]
    text = results_context(tasks, max_chars=900)
    assert len(text) <= 900 and "29. task 29" in text and "1. task 1 " not in text
    failed = [Task(id=1, text="t", position=1, status=TaskStatus.FAILED, detail="model error: boom")]
    assert "failed: model error: boom" in results_context(failed, max_chars=500)


def test_prices() -> None:
    assert price_of(FunctionModel(lambda r: "", name="gpt-4o-mini-2024")) == (0.15, 0.60)
    assert price_of(FunctionModel(lambda r: "", name="openai:gpt-4o")) == (2.5, 10.0)
    assert price_of(FunctionModel(lambda r: "", name="smollm2-135m")) == (0.0, 0.0)
    assert price_of(FunctionModel(lambda r: "", name="mystery")) is None
    assert cost_of(Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000), (1.0, 2.0)) == 3.0


def test_events_serialise_to_json() -> None:
    event = TaskOutput(1, TextDelta("hi"))
    assert to_json(event) == {"type": "task_output", "task_id": 1, "event": {"type": "text_delta", "text": "hi"}}
    done = ObjectiveFinished("r", *_finished_fields())
    data = json.loads(json.dumps(to_json(done)))
    assert data["status"] == "finished" and data["totals"]["tasks_run"] == 0


def _finished_fields() -> tuple[Any, ...]:
    from agent.tasks import StopReason, ObjectiveStatus

    return (ObjectiveStatus.FINISHED, StopReason.EMPTY, "no task is left", "answer", Totals())


def test_repetition_guard_and_trim() -> None:
    from agent.tasks.repetition import RepetitionGuard, is_repeating, trim_repetition

    loop = "Intro. " + "and [brief description of activities] " * 6
    guard = RepetitionGuard()
    assert any(guard.feed(loop[i : i + 5]) for i in range(0, len(loop), 5))
    assert is_repeating(loop) and not is_repeating("A plain sentence that goes on. " + "x" * 10)
    trimmed = trim_repetition(loop)
    assert trimmed.startswith("Intro.") and len(trimmed) < len(loop) / 2


def test_a_looping_task_is_cut_and_kept(tmp_path: Path) -> None:
    script = ObjectiveScript(plan=["loop"], execute=lambda task: "Start. " + "we go round and round again " * 40)
    runner = script.runner(ObjectiveStore(tmp_path / "r.db"))
    end = list(runner.run("x", options=ObjectiveOptions(limits=TaskLimits(task_tokens=10_000))))[-1]
    assert isinstance(end, ObjectiveFinished)
    task = runner.store.tasks(end.run_id)[0]
    assert task.status is TaskStatus.DONE and "repeating" in task.detail
    assert task.result.startswith("Start.") and len(task.result) < 200


def test_repeated_lines_are_a_loop() -> None:
    from agent.tasks.repetition import is_repeating, trim_repetition

    text = "Plan a weekend.\nThe plan is:\nThe plan is:\nThe plan is:\n"
    assert is_repeating(text)
    assert trim_repetition(text) == "Plan a weekend.\nThe plan is:"
    assert not is_repeating("- a\n- a\n- a\n")



def test_the_answer_keeps_within_the_runs_tokens(tmp_path: Path) -> None:
    from agent.tasks import StopReason

    script = ObjectiveScript(plan=["one", "two"], execute=lambda task: "x " * 40)
    runner = script.runner(ObjectiveStore(tmp_path / "r.db"), model=script.model(chunk_size=2))
    end = list(runner.run("x", options=ObjectiveOptions(limits=TaskLimits(max_tokens=40, task_tokens=20))))[-1]
    assert isinstance(end, ObjectiveFinished) and end.stop_reason is StopReason.MAX_TOKENS
    assert script.asked["answer"] == 0 and end.answer.startswith("- one: ")
