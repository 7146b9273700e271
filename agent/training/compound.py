"""A worked answer with a kept call at every step, rewritten as one compound call.

Sampled one step at a time, a multi-step answer reads `First, 8 rolls of 51 is
[Calculator(8 * 51) → 408] 408. Split 3 ways, the answer is [Calculator(408 / 3) → 136]
136.`; a one-step answer reads `The answer is [Calculator(23 * 48) → 1104] 1104.` A model
trained on both has to choose the layout at the first word of its answer, and SmolLM2-135M
learnt that choice for its training questions only: on the eval's multi-step questions it
gave "First" 1% and answered them with the first step alone (run 14 in benchmarks/RESULTS.md).
Rewritten, every answer begins the same way and the steps live inside the call:
`The answer is [Calculator(8 * 51 / 3) → 136] 136.`

The calls are the model's own: each step's result is replaced, in the later call that uses
it, by the step's expression (`ast` puts in the parentheses that precedence needs; numbers
stay as written). A chain is rewritten only if every intermediate result is used by exactly
one later call and the compound gives the last call's result; `p% of N` becomes
`N * p / 100` inside a compound, the form the calculator reads within an expression.
"""

from __future__ import annotations

import ast
import re

from agent.arithmetic import evaluate
from agent.markup import DEFAULT_MARKUP, Markup
from agent.parts import CallRecord, calls_in, parts_of, rendered

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_PERCENT_OF = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*% of\s*(\d+(?:\.\d+)?)\s*$")
_ANSWER = "\nAnswer: "


def worked_answer(text: str) -> bool:
    """Whether `text` is a question and its worked answer (`Question: …\nAnswer: …`)."""
    return text.startswith("Question: ") and _ANSWER in text


def compound(text: str, tool: str = "Calculator", markup: Markup = DEFAULT_MARKUP) -> str | None:
    """`text` (`Question: …\\nAnswer: …` with two or more completed calls to `tool`, the
    last after "the answer is") with its answer as "The answer is" and one compound call;
    None when the calls do not chain into one expression."""
    question, found, answer = text.partition(_ANSWER)
    parts = parts_of(answer, markup)
    at = [i for i, p in enumerate(parts) if isinstance(p, CallRecord) and p.name == tool and p.result is not None]
    if not found or len(at) < 2 or not re.search(r"answer is $", rendered(parts[: at[-1]]), re.IGNORECASE):
        return None
    steps: list[tuple[ast.expr, float]] = []
    open_steps: list[int] = []
    for i in at:
        call = parts[i]
        assert isinstance(call, CallRecord) and call.result is not None
        tree, value = _parsed(call.raw), _value(call.result)
        if tree is None or value is None:
            return None
        for j in list(open_steps):
            replaced = _replace(tree, steps[j][1], steps[j][0])
            if replaced is None:
                return None
            tree, used = replaced
            if used:
                open_steps.remove(j)
        steps.append((tree, value))
        open_steps.append(len(steps) - 1)
    if open_steps != [len(steps) - 1]:
        return None
    written = _unparsed(steps[-1][0])
    total = evaluate(written)
    if total is None or abs(float(total) - steps[-1][1]) > 1e-9 * max(1.0, abs(steps[-1][1])):
        return None
    last = parts[at[-1]]
    assert isinstance(last, CallRecord) and last.result is not None
    joined = markup.completed(tool, written, last.result)
    return f"{question}{_ANSWER}The answer is {joined}{rendered(parts[at[-1] + 1 :])}"


def several_steps(text: str, tool: str = "Calculator", markup: Markup = DEFAULT_MARKUP) -> bool:
    """Whether a completed call to `tool` in `text` does more than one operation
    (`24 * 38 + 6 * 125`; `12% of 320` is one)."""
    for call in completed_calls(text, tool, markup):
        tree = None if _PERCENT_OF.match(call.raw) else _parsed(call.raw)
        if tree is not None and sum(isinstance(node, ast.BinOp) for node in ast.walk(tree)) > 1:
            return True
    return False


def completed_calls(text: str, tool: str = "Calculator", markup: Markup = DEFAULT_MARKUP) -> list[CallRecord]:
    """The calls to `tool` in `text` that came back with a result."""
    return [call for call in calls_in(parts_of(text, markup)) if call.name == tool and call.result is not None]


def _parsed(expression: str) -> ast.expr | None:
    """The expression's tree, its numbers kept as written (`_n12_50` for 12.50)."""
    percent = _PERCENT_OF.match(expression)
    if percent:
        expression = f"{percent.group(2)} * {percent.group(1)} / 100"
    named = _NUMBER.sub(lambda m: "_n" + m.group(0).replace(".", "_"), expression)
    try:
        tree = ast.parse(named, mode="eval").body
    except SyntaxError:
        return None
    allowed = (ast.BinOp, ast.UnaryOp, ast.Name, ast.Load, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub)
    return tree if all(isinstance(node, allowed) for node in ast.walk(tree)) else None


def _replace(tree: ast.expr, value: float, step: ast.expr) -> tuple[ast.expr, bool] | None:
    """`tree` with the one number equal to `value` replaced by `step`, and whether one
    was; None if several are."""
    names = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and _number(n.id) == value]
    if len(names) > 1:
        return None
    if not names:
        return tree, False
    target = names[0]

    class Swap(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            return step if node is target else node

    swapped = Swap().visit(tree)
    assert isinstance(swapped, ast.expr)
    return swapped, True


def _number(name: str) -> float:
    return float(name[2:].replace("_", "."))


def _value(result: str) -> float | None:
    try:
        return float(result.replace(",", ""))
    except ValueError:
        return None


def _unparsed(tree: ast.expr) -> str:
    return re.sub(r"_n(\d+)(?:_(\d+))?", lambda m: m.group(1) + ("." + m.group(2) if m.group(2) else ""),
                  ast.unparse(tree))
