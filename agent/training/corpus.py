"""The texts the model annotates with its own calls: the user's files, or a generated corpus
of word problems with worked solutions.

The generated problems come from templates of their own (`agent.training.families`,
`agent.training.measures`, `agent.training.chains`; none of the arithmetic eval's
wordings: `tests/test_training_corpus.py` checks that no eval item, numbers aside,
appears in the corpus). Each problem is a question and its steps; a step is (words before
it, expression, value). Solutions can be written in four shapes: the equation per step,
words per step, the answer layout of the agent's question prompts (`ANSWER`: one short
sentence per intermediate step, then "The answer is N."), or the answer alone (`DIRECT`:
"The answer is N.", a multi-step problem's call then has to be a compound expression).
The default corpus uses the answer layout only, so that every call the filter keeps sits
where the agent later computes: in a step of a multi-step answer, or after "The answer
is". The texts carry no calls: the calls are the model's to find (`agent.training.sampling`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from pathlib import Path

from agent.training.chains import CHAINS
from agent.training.families import MULTI_STEP, NAMES, ONE_STEP, Family, Problem
from agent.training.measures import MEASURES

EQUATIONS, WORDS, ANSWER, DIRECT = 0, 1, 2, 3
"""The solution shapes: the equation per step; words per step; the answer layout, where
a multi-step answer's last step keeps its lead words before "the answer is" (`Taking 12.5
from $20, the answer is 7.5.`): the words name the operands the last call needs, which the model,
sampling calls, otherwise misses (it proposed no right last call in six multi-step
problems without them); the answer alone."""


def solution(problem: Problem, shape: int) -> str:
    """A worked solution without calls, in one of the four shapes."""
    *first, (lead, expression, value) = problem.steps
    if shape == 0:
        worked = [f"{e} = {v}." for _, e, v in first]
        return " ".join([*worked, f"{expression} = {value}. The answer is {value}."])
    if shape == 1:
        worked = [f"{ld} {v}.".strip() for ld, _, v in first]
        return " ".join([*worked, f"{lead} {value}. The answer is {value}.".strip()])
    if shape == DIRECT:
        return f"The answer is {value}."
    worked = [f"{ld} {v}.".strip() for ld, _, v in first]
    if worked:
        worked[0] = FIRST + _lowered(worked[0])
    final = f"{lead} the answer is {value}." if first and lead.endswith(",") else f"The answer is {value}."
    return " ".join([*worked, final])


FIRST = "First, "
"""How a multi-step answer in the answer layout begins: a word, where a one-step answer
begins with "The answer is". Begun with its first number (`8 rolls of 51 is`), a step
taught the tuned model to open an answer with a space and digits (SmolLM2 writes ` 608`
as ` `, `6`, `0`, `8`), after which it wrote call arguments with no call (run 6 in
benchmarks/RESULTS.md)."""


def _lowered(sentence: str) -> str:
    """A step's sentence after "First, ": its first word lowered unless it is a name."""
    word = sentence.split(" ", 1)[0]
    return sentence[0].lower() + sentence[1:] if word.isalpha() and word not in NAMES else sentence


def render(problem: Problem, shape: int) -> str:
    return f"Question: {problem.question}\nAnswer: {solution(problem, shape)}"


def _shuffled(rng: random.Random, families: tuple[Family, ...]) -> Iterator[Family]:
    """The families in rounds, each round in a new order: whatever the seed, every family
    as often as the others, but for the few draws whose question came up before."""
    while True:
        order = list(families)
        rng.shuffle(order)
        yield from order


def problems(n: int, *, seed: int = 0, multi_share: float = 0.5) -> Iterator[Problem]:
    """`n` generated problems with distinct questions, `multi_share` of them multi-step
    (rounded), the two kinds interleaved."""
    rng = random.Random(seed)
    one_step, multi_step = _shuffled(rng, ONE_STEP + MEASURES), _shuffled(rng, MULTI_STEP + CHAINS)
    seen: set[str] = set()
    multi = 0
    while len(seen) < n:
        is_multi = multi + 0.5 <= multi_share * (len(seen) + 1)
        problem = next(multi_step if is_multi else one_step)(rng)
        if problem.question not in seen:
            seen.add(problem.question)
            multi += is_multi
            yield problem


SHAPE_WEIGHTS = (0, 0, 1, 0)
"""How often each solution shape is used by default: the answer layout only. Two runs
with the first three shapes mixed (1:1:1 and 1:1:2) kept their calls mostly inside
written equations (`7 * 18 = [Calculator(7 * 18) → 126] 126.`), a place the agent's
prompts never ask for one, and the tuned model gained nothing (benchmarks/RESULTS.md).
The answer alone (`DIRECT`) keeps almost no multi-step text: shown compound examples,
the base model proposed a right compound call for 2 of 24 multi-step problems in 16
candidates each."""


def generated(n: int = 600, *, seed: int = 0, multi_share: float = 0.5,
              weights: tuple[int, ...] = SHAPE_WEIGHTS) -> list[str]:
    """The default corpus: `n` worked word problems as plain texts, their solution shapes
    drawn with `weights`."""
    rng = random.Random(seed + 1)
    return [render(p, rng.choices(range(len(weights)), weights)[0])
            for p in problems(n, seed=seed, multi_share=multi_share)]


def read_files(paths: Iterable[Path], *, max_chars: int = 1200) -> list[str]:
    """The user's text files split into paragraphs (blank-line separated), each cut to
    `max_chars`; empty paragraphs dropped."""
    texts: list[str] = []
    for path in paths:
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                body = file.read_text(encoding="utf-8", errors="replace")
                texts += [p.strip()[:max_chars] for p in body.split("\n\n") if p.strip()]
    return texts
