"""Self-critique and revision, checked by something outside the model.

Asking a model to critique itself does not help it on maths (Self-Refine: GSM8K 64.1 →
64.1); a checker does. `refine` runs the agent, applies checks that do not trust the
model (recompute the equations it wrote, run the code it wrote in the sandbox, look for
calls that failed), and when they find problems asks for a revision with the findings
in hand, until the checks pass or the rounds run out. The best attempt wins: the one with
the fewest findings, the later one on a tie.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from agent.agent import Agent
from agent.arithmetic import evaluate, find_equation
from agent.events import RunResult, plain_text

_WRITTEN_NUMBER = re.compile(r"\s*\$?(-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)")
_CODE_BLOCK = re.compile(r"```(?:python|py)\n(.*?)```", re.DOTALL)

Check = Callable[[RunResult], list[str]]
"""A check reads a result and says what is wrong with it, one finding a line."""

RunCode = Callable[[str], str | None]
"""Runs code; returns None when it ran cleanly, else what went wrong."""


def wrong_arithmetic(result: RunResult) -> list[str]:
    """Equations `a op b = c` whose `c` is not the value of `a op b`."""
    text = plain_text(result.parts)
    findings: list[str] = []
    start = 0
    while (found := find_equation(text, start)) is not None:
        start = found.end
        written = _WRITTEN_NUMBER.match(text, found.end)
        value = evaluate(found.expression)
        if written is None or value is None:
            continue
        try:
            claimed = float(written.group(1).replace(",", ""))
        except ValueError:
            continue
        if abs(claimed - float(value)) > 1e-9 * max(1.0, abs(float(value))):
            findings.append(f"{found.expression.strip()} is{found.value}, not {written.group(1)}")
    return findings


def failed_calls(result: RunResult) -> list[str]:
    return [f"the call {c.name}({c.raw}) failed: {c.error}" for c in result.calls if not c.ok]


def failing_code(run: RunCode) -> Check:
    """A check that runs every ```python block of the answer with `run` (for example the
    sandboxed Python tool)."""

    def check(result: RunResult) -> list[str]:
        findings = []
        for block in _CODE_BLOCK.findall(result.text):
            problem = run(block)
            if problem:
                findings.append(f"this code fails: {problem}")
        return findings

    return check


DEFAULT_CHECKS: tuple[Check, ...] = (wrong_arithmetic, failed_calls)


@dataclass(frozen=True)
class Attempt:
    result: RunResult
    findings: tuple[str, ...]


@dataclass(frozen=True)
class Refined:
    best: Attempt
    attempts: tuple[Attempt, ...]

    @property
    def text(self) -> str:
        return self.best.result.text


REVISION = (
    "{task}\n\nA first answer was:\n{answer}\n\nChecking it found these problems:\n{findings}\n\n"
    "Write the whole answer again, correcting them."
)


def refine(agent: Agent, task: str, *, checks: Sequence[Check] = DEFAULT_CHECKS, rounds: int = 2) -> Refined:
    """Run `task`, then revise up to `rounds` times while the checks find problems."""
    attempts: list[Attempt] = []
    prompt = task
    for _ in range(rounds + 1):
        result = agent.run(prompt)
        attempt = Attempt(result, tuple(_findings(result, checks)))
        attempts.append(attempt)
        if not attempt.findings:
            break
        prompt = REVISION.format(task=task, answer=plain_text(result.parts).strip(),
                                 findings="\n".join(f"- {f}" for f in attempt.findings))
    best = min(reversed(attempts), key=lambda a: len(a.findings))
    return Refined(best, tuple(attempts))


def _findings(result: RunResult, checks: Iterable[Check]) -> list[str]:
    return [finding for check in checks for finding in check(result)]
