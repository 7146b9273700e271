"""Ask the embedded default model a question it answers with the calculator.

    python examples/quickstart.py
"""

from __future__ import annotations

from agent import Agent, CallFinished, RunFinished, TextDelta
from tools.calculator import calculator


def main() -> None:
    agent = Agent(tools=[calculator], max_tokens=200)
    question = "What is 17% of 2,340?"
    for event in agent.stream(question):
        if isinstance(event, TextDelta):
            print(event.text, end="", flush=True)
        elif isinstance(event, CallFinished):
            print(event.record.text, end="", flush=True)
        elif isinstance(event, RunFinished):
            print(f"\n\n[{event.result.stop_reason.value}: {event.result.detail}; "
                  f"{len(event.result.calls)} calls, {event.result.usage.total_tokens} tokens]")


if __name__ == "__main__":
    main()
