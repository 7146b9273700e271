"""Training documents laid out as the agent asks its questions.

`Agent` asks a question (`agent run --single`, `agent eval`) in the question layout: the
system prompt (instructions, the tools' signatures, the recipe's few-shot examples), a
blank line, `Question: …` and `Answer:`. With `TrainConfig(prompted=True)` each training
document starts with the system prompt the tuned model will be asked with, followed by a
few of the filtered texts; the first follows it exactly as a question does. (Measured on
SmolLM2 135M it did not help: the bare texts already carry over to the full prompt;
benchmarks/RESULTS.md.)
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.agent import INSTRUCTIONS
from agent.prompt import system_prompt
from agent.tools import Tool

QUESTION = "Question: "


def question_preamble(tools: Sequence[Tool], examples: int) -> str:
    """The system prompt of a question asked with `tools` and `examples` few-shot
    examples per tool, and the blank line the question layout puts after it."""
    return system_prompt(list(tools), instructions=INSTRUCTIONS["question"], max_examples=examples) + "\n\n"


def documents(texts: Sequence[str], preamble: str, *, per_prompt: int) -> list[str]:
    """Texts in the question layout grouped `per_prompt` at a time after `preamble`;
    other texts as they are."""
    asked = [t for t in texts if t.startswith(QUESTION)]
    other = [t for t in texts if not t.startswith(QUESTION)]
    size = max(1, per_prompt)
    grouped = [preamble + "\n\n".join(asked[i : i + size]) for i in range(0, len(asked), size)]
    return grouped + other
