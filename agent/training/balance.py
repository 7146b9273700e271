"""How many times each training text is trained per epoch.

The loss filter keeps the calls the base model already proposes, so the kept texts lean
toward its favourite operation: of the 189 one-step calls kept from seed 0's corpus, 118
multiply, 22 subtract, 20 divide, 19 add and 10 take a percentage. A one-step text whose
operation is rarer than the most common one can be trained more often, up to a bound
(`TrainConfig.rare_operation_repeats`); a multi-step text (one compound call) is trained
`TrainConfig.multi_step_repeats` times. Measured in benchmarks/RESULTS.md, runs 56 to 60.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from agent.markup import DEFAULT_MARKUP, Markup
from agent.training.compound import completed_calls, several_steps

OPERATORS = "+-*/%^"


def operation(text: str, tool: str = "Calculator", markup: Markup = DEFAULT_MARKUP) -> str:
    """The tool and the operators of the last completed call to `tool` in `text`, in the
    order they are written (`Calculator /` for `1575 / 35`, `Calculator %` for `12% of
    320`); empty without one."""
    calls = completed_calls(text, tool, markup)
    if not calls:
        return ""
    return " ".join([tool, *(c for c in calls[-1].raw if c in OPERATORS)])


def times(texts: Sequence[str], *, multi_step: int, rare_operation: int) -> list[int]:
    """How many times each text is trained per epoch: `multi_step` for a call that does
    several operations; for a one-step call, the most common one-step operation's count
    over its own, rounded, between 1 and `rare_operation`."""
    steps = [several_steps(text) for text in texts]
    kinds = [operation(text) for text in texts]
    counts = Counter(kind for kind, multi in zip(kinds, steps) if not multi and kind)
    most = max(counts.values(), default=0)

    def count(kind: str, multi: bool) -> int:
        if multi:
            return multi_step
        return max(1, min(rare_operation, round(most / counts[kind]))) if kind else 1

    return [count(kind, multi) for kind, multi in zip(kinds, steps)]
