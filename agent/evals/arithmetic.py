"""The arithmetic word-problem eval: the project's development set, scored by the
lenient rule of `agent.evals.scoring`."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.agent import Agent
from agent.errors import InterleafError, ModelError
from agent.events import RunFinished, RunResult, plain_text
from agent.evals.runner import ItemOutcome, Setup, failure, item_outcome, read_jsonl
from agent.evals.scoring import answer_in, is_correct
from agent.models.base import Model
from agent.tasks import (
    ObjectiveFinished, ObjectiveOptions, ObjectiveRunner, ObjectiveStatus, ObjectiveStore, Overrides, TaskLimits,
    TaskOutput,
)
from agent.tools import Tool, installed_tools

TASK = "arithmetic"

INSTRUCTIONS = 'Solve the math word problem. Be brief, and finish with "The answer is N."'

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


def ask(runner: ObjectiveRunner, question: str, overrides: Overrides) -> RunResult:
    """What `agent run --single QUESTION` does, with the same runner and options."""
    result: RunResult | None = None
    for event in runner.run(question, options=ObjectiveOptions(single=True, overrides=overrides)):
        if isinstance(event, TaskOutput) and isinstance(event.event, RunFinished):
            result = event.event.result
        elif isinstance(event, ObjectiveFinished) and event.status is not ObjectiveStatus.FINISHED:
            raise ModelError(event.detail)
    if result is None:
        raise ModelError("the run ended before its task did")
    return result


def baseline_agent(model: Model, *, check: bool = False, style: str = "single") -> Agent:
    """The no-tools baseline: the same worked examples, as written equations."""
    shown = "\n".join(examples(style, tools=False))
    return Agent(model=model, instructions=f"{INSTRUCTIONS}\n\nExamples:\n{shown}", check_arithmetic=check,
                 max_calls=4, max_tokens=TaskLimits().task_tokens, layout="question")


def run(setup: Setup, model: Model, problems: list[Problem], *, tools: Sequence[Tool] | None = None,
        style: str = "single") -> Iterator[ItemOutcome]:
    """Each problem asked as `agent run --single` asks it (with the installed tools, or
    `tools`); the no-tools setup asks the baseline agent."""
    with tempfile.TemporaryDirectory(prefix="interleaf-eval-") as home:
        store = ObjectiveStore(Path(home) / "runs.db")
        runner = ObjectiveRunner(model=model, store=store, tools=list(installed_tools([]).values()) if tools is None
                                 else list(tools))
        baseline = None if setup.tools else baseline_agent(model, check=bool(setup.check), style=style)
        try:
            for problem in problems:
                try:
                    result = (ask(runner, problem.question, setup.overrides) if baseline is None
                              else baseline.run(problem.question))
                except InterleafError as exc:
                    yield failure(problem.id, exc, expected=problem.answer)
                    continue
                predicted = answer_in(plain_text(result.parts))
                yield item_outcome(problem.id, result, correct=is_correct(predicted, problem.answer),
                              predicted=predicted, expected=problem.answer)
        finally:
            store.close()
            if baseline is not None:
                baseline.close()
