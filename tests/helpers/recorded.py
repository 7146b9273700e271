"""A model for recording, tracing, replaying and reporting runs: it plans two tasks,
each of which makes one Calculator call (the second also a call that fails), and
answers from the results. `make_model` is a `python:MODULE:FACTORY` factory."""

from __future__ import annotations

from agent.models.base import Request
from agent.testing import FunctionModel
from helpers.models import ObjectiveScript

CALLS = {
    "add the prices": "The total is [Calculator(120 + 80.5)",
    "split the bill": "Each pays [Calculator(200.5 / 2)",
}
CARRY_ON = {
    "add the prices": " euros. [Calculator(1 / 0)",
    "split the bill": " euros each.",
}


def execute(task: str) -> str:
    return CALLS[task]


def make_model() -> FunctionModel:
    script = ObjectiveScript(plan=list(CALLS), execute=execute, answer="Each of the two pays 100.25 euros.")

    def reply(request: Request) -> str:
        assistant = request.prompt.assistant
        if assistant and not assistant.rstrip().endswith("]"):
            return script(request)
        for task, text in CARRY_ON.items():
            if assistant.startswith(CALLS[task]):
                done = assistant.count("→") + assistant.count("Error")
                return text if done == 1 else " That is all."
        return script(request)

    return FunctionModel(reply, chunk_size=6, name="recorded-objective", capabilities=script.model().capabilities)
