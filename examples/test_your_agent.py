"""Test an agent without a model: `ScriptedModel` replays the replies you write, stops
at each call as a real model is stopped, and records every prompt it was sent.

    python examples/test_your_agent.py      (or: pytest examples/test_your_agent.py)
"""

from __future__ import annotations

from agent import Agent, StopReason, tool
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


if __name__ == "__main__":
    test_the_agent_reports_stock()
    print("ok")
