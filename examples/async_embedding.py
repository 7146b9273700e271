"""Embed the agent in an asyncio application: `arun` for the result, `astream` for
events as they happen. Tools may be async too.

    python examples/async_embedding.py
"""

from __future__ import annotations

import asyncio

from agent import Agent, CallStarted, RunFinished, tool


@tool(name="OrderStatus", examples=["The order is [OrderStatus(1234) → shipped] shipped."])
async def order_status(order_id: int) -> str:
    """The shipping status of an order."""
    await asyncio.sleep(0.01)
    return "shipped" if order_id % 2 == 0 else "packing"


async def main() -> None:
    agent = Agent(tools=[order_status], max_tokens=120)
    async for event in agent.astream("Where is order 1234?"):
        if isinstance(event, CallStarted):
            print(f"calling {event.call.name}({event.call.raw}) ...")
        elif isinstance(event, RunFinished):
            print(event.result.text)
            print(f"stopped: {event.result.detail}")


if __name__ == "__main__":
    asyncio.run(main())
