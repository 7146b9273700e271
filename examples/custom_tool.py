"""Add a tool of your own with `@tool`: the schema comes from the type hints, the
description and parameter docs from the docstring, and `examples` teach the model the
markup.

    python examples/custom_tool.py
"""

from __future__ import annotations

from agent import Agent, tool

PRICES = {"apple": 0.5, "bread": 2.25, "milk": 1.1}


@tool(name="Price", examples=["Question: How much is a bottle of milk?\nAnswer: Milk costs [Price(milk) → 1.1] 1.1 euros."],
      inline=True)
def price(item: str) -> float:
    """Look up the price of a grocery item in euros.

    Args:
        item: the item's name, e.g. "milk"
    """
    return PRICES[item.strip().lower()]


def main() -> None:
    agent = Agent(tools=[price], max_tokens=120)
    result = agent.run("How much does bread cost?")
    print(result.text)
    for call in result.calls:
        print(f"{call.name}({call.raw}) -> {call.result if call.ok else call.error}")


if __name__ == "__main__":
    main()
