"""Test an agent without a model: `ScriptedModel` replays the replies you write, stops
at each call as a real model is stopped, and records every prompt it was sent. An
objective run takes a `ScriptedPlanner` for its planning steps, so the scripted model
only executes the tasks.

    python examples/test_your_agent.py      (or: pytest examples/test_your_agent.py)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from agent import Agent, StopReason, tool
from agent.tasks import ObjectiveRunner, ObjectiveStore, ScriptedPlanner
from agent.testing import ScriptedModel


@tool(inline=True)
def stock(item: str) -> int:
    """How many of an item are in stock."""
    return {"pens": 12}.get(item, 0)


def test_the_agent_reports_stock() -> None:
    model = ScriptedModel(["We have [stock(pens)]", " pens left."])
    result = Agent(model=model, tools=[stock]).run("How many pens are left?")
    assert result.text == "We have [stock(pens) → 12] pens left."
    assert result.stop_reason is StopReason.END
    assert "stock(item: str)" in model.requests[0].prompt.system
    model.assert_complete()


def test_an_objective_runs_its_planned_tasks() -> None:
    planner = ScriptedPlanner(tasks=["book the flights", "find a hotel"], answer_text="Fly Friday, stay in Alfama.")
    model = ScriptedModel(["Flights booked for Friday.", "A hotel in Alfama."])
    with tempfile.TemporaryDirectory() as folder:
        store = ObjectiveStore(Path(folder) / "runs.sqlite3")
        end = list(ObjectiveRunner(model=model, store=store, planner=planner).run("plan a trip to Lisbon"))[-1]
        results = [task.result for task in store.tasks(end.run_id)]
        store.close()
    assert results == ["Flights booked for Friday.", "A hotel in Alfama."]
    assert end.answer == "Fly Friday, stay in Alfama."
    assert planner.asked["plan"] == 1 and planner.asked["answer"] == 1
    model.assert_complete()


if __name__ == "__main__":
    test_the_agent_reports_stock()
    test_an_objective_runs_its_planned_tasks()
    print("ok")
