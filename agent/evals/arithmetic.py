"""The arithmetic word-problem eval: the project's development set, scored by the
lenient rule of `agent.evals.scoring`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from agent.agent import Agent
from agent.arithmetic import evaluate, format_value
from agent.errors import InterleafError, ToolError
from agent.evals.runner import Outcome, Setup, failure, outcome, read_jsonl
from agent.evals.scoring import is_correct, predicted_answer
from agent.models.base import CallTrigger, Model
from agent.tools import Tool, make_tool

TASK = "arithmetic"

INSTRUCTIONS = 'Solve the math word problem. Be brief, and finish with "The answer is N."'

PREFIX = "Answer:"
"""Starts the model's text, as in the examples."""

STOP = ("\n",)
"""The answer is one line, as in the examples."""

Step = tuple[str, str, str]
"""(words before it, expression, value): one computation in a worked answer; the last
step of an answer is its result."""

SOLVED: tuple[tuple[str, tuple[Step, ...]], ...] = (
    ("A box holds 24 cans. How many cans are in 15 boxes?", (("", "15 * 24", "360"),)),
    ("Ann had $52.50 and spent $18.75. How many dollars does she have left?", (("", "52.50 - 18.75", "33.75"),)),
    ("A shop sold 1,380 cups on Monday and 2,715 cups on Tuesday. How many cups did it sell in all?",
     (("", "1380 + 2715", "4095"),)),
    ("A 1,350 km trip is driven in 6 equal parts. How many km long is each part?", (("", "1350 / 6", "225"),)),
    ("What is 30% of 420?", (("", "420 * 30 / 100", "126"),)),
    ("A class of 30 students has 12 boys. What percent of the class are boys?", (("", "12 / 30 * 100", "40"),)),
    ("Tim has 4 bags of 60 marbles and loses 25 marbles. How many marbles does he have?",
     (("", "4 * 60 - 25", "215"),)),
    ("Three friends share a $94.50 bill equally. How many dollars does each pay?", (("", "94.50 / 3", "31.50"),)),
)
"""Few-shot problems, each answered with one expression."""

STEPPED: tuple[tuple[str, tuple[Step, ...]], ...] = (
    *SOLVED[:6],
    ("Tim has 4 bags of 60 marbles and loses 25 marbles. How many marbles does he have?",
     (("4 bags of 60 is", "4 * 60", "240"), ("", "240 - 25", "215"))),
    ("A $60 coat is on sale for 20% off. What is the sale price in dollars?",
     (("The discount is", "60 * 20 / 100", "12"), ("", "60 - 12", "48"))),
    ("Jo buys 3 pens at $2.40 each and a $5.50 book. How many dollars does she spend?",
     (("The pens cost", "3 * 2.40", "7.2"), ("", "7.2 + 5.50", "12.7"))),
)
"""Few-shot problems with multi-step ones worked one step at a time."""

STYLES = {"single": SOLVED, "steps": STEPPED}


def examples(style: str = "single", *, tools: bool = True) -> tuple[str, ...]:
    """The few-shot examples: with a call per step when `tools`, else written equations."""
    shown = []
    for question, steps in STYLES[style]:
        parts = []
        for lead, expression, value in steps[:-1]:
            done = f"[Calculator({expression}) → {value}]" if tools else f"{expression} = {value}"
            parts.append(f"{lead} {done}.".strip())
        _, expression, value = steps[-1]
        if tools:
            parts.append(f"The answer is [Calculator({expression}) → {value}].")
        else:
            parts.append(f"{expression} = {value}. The answer is {value}.")
        shown.append(f"Question: {question}\nAnswer: {' '.join(parts)}")
    return tuple(shown)


@dataclass(frozen=True)
class Problem:
    id: str
    kind: str
    question: str
    formula: str
    answer: float


def data_path() -> Path:
    return Path(__file__).parent / "data" / "arithmetic.jsonl"


def load_problems(path: Path | None = None) -> list[Problem]:
    rows = read_jsonl(path or data_path())
    return [Problem(r["id"], r["kind"], r["question"], r["formula"], float(r["answer"])) for r in rows]


def _fallback_calculator(expression: str) -> str:
    """Evaluate an arithmetic expression: + - * / ^, parentheses, decimals."""
    value = evaluate(expression)
    if value is None:
        raise ToolError(f"cannot compute {expression!r}: write numbers and + - * / ^ ( ) only")
    return format_value(value)


def calculator_tool(style: str = "single") -> Tool:
    """The project's Calculator tool (tools.calculator) when present, with this eval's
    few-shot examples."""
    try:
        from tools.calculator import calculator as found
    except ImportError:
        found = make_tool(_fallback_calculator, name="Calculator")
    tool = found if isinstance(found, Tool) else make_tool(found, name="Calculator")
    return dataclasses.replace(tool, examples=examples(style))


def build_agent(setup: Setup, model: Model, *, max_tokens: int = 160, timeout: float = 120.0,
                style: str = "single") -> Agent:
    if setup.tools:
        tool = calculator_tool(style)
        return Agent(
            model=model, tools=[tool], instructions=INSTRUCTIONS, max_examples=len(tool.examples),
            max_tokens=max_tokens, timeout=timeout, constrain=setup.grammar, check_arithmetic=setup.check,
            trigger=CallTrigger(k=setup.k) if setup.k else None, max_calls=4, stop=STOP,
        )
    shown = "\n".join(examples(style, tools=False))
    return Agent(model=model, instructions=f"{INSTRUCTIONS}\n\nExamples:\n{shown}", max_tokens=max_tokens,
                 timeout=timeout, check_arithmetic=setup.check, max_calls=4, stop=STOP)


def run(setup: Setup, model: Model, problems: list[Problem], *, max_tokens: int = 160, timeout: float = 120.0,
        style: str = "single") -> Iterator[Outcome]:
    agent = build_agent(setup, model, max_tokens=max_tokens, timeout=timeout, style=style)
    try:
        for problem in problems:
            try:
                result = agent.run(f"Question: {problem.question}", prefix=PREFIX)
            except InterleafError as exc:
                yield failure(problem.id, exc, expected=problem.answer)
                continue
            predicted = predicted_answer(result.text, agent.config.markup)
            yield outcome(problem.id, result, correct=is_correct(predicted, problem.answer),
                          predicted=predicted, expected=problem.answer)
    finally:
        agent.close()
