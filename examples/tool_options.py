"""The options of `@tool` the built-in tools use, on a tool of your own: `raw=True` (the
text between the parentheses is the argument as written, so `[Let(x = 5)]` is not a
keyword argument), `grammar` (what the model may write in a call when decoding is
constrained) and `reset` (called when a run ends, for state kept for one run).

    python examples/tool_options.py
"""

from __future__ import annotations

from agent import Agent, tool
from agent.testing import ScriptedModel

ASSIGNMENT = 'root ::= [a-z] " = " [0-9]{1,6} ")" close'
"""GBNF for `x = 5)` and the close marker; the markup supplies the `close` rule."""

variables: dict[str, int] = {}


@tool(raw=True, grammar=ASSIGNMENT, reset=variables.clear, inline=True)
def Let(assignment: str) -> str:
    """Set a variable, as in x = 5; returns the sum of all variables set so far."""
    name, _, value = assignment.partition("=")
    variables[name.strip()] = int(value)
    return str(sum(variables.values()))


def main() -> None:
    # Under constrained decoding the model is stopped at each `[` and writes the call under
    # the grammar of every tool's call (then this tool's grammar for its arguments).
    model = ScriptedModel(["Say [", "Let(x = 17)]", " and [", "Let(y = 25)]", " in all."])
    result = Agent(model=model, tools=[Let], constrain=True).run("Add 17 and 25.")
    print(result.text)
    print("arguments:", [call.arguments for call in result.calls])
    grammar = model.requests[1].grammar or ""
    print("grammar for the arguments:", next(line for line in grammar.splitlines() if '" = "' in line))
    print("variables after the run:", variables)  # the run ended, so reset cleared them


if __name__ == "__main__":
    main()
