"""The texts the model annotates with its own calls: the user's files, or a generated corpus
of word problems with worked solutions.

The generated problems come from templates of their own (none of the arithmetic eval's
wordings; `tests/test_training_corpus.py` checks that no eval item, numbers aside, appears
here). Each problem is a question and its steps; a step is (words before it, expression,
value). Solutions can be written in four shapes: the equation per step, words per step,
the answer layout of the agent's question prompts (`ANSWER`: one short sentence per
intermediate step, then "The answer is N."), or the answer alone (`DIRECT`: "The answer
is N.", a multi-step problem's call then has to be a compound expression). The default
corpus uses the answer layout only, so that every call the filter keeps sits where the
agent later computes: in a step of a multi-step answer, or after "The answer is". The
texts carry no calls: the calls are the model's to find (`agent.training.sampling`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from agent.arithmetic import evaluate, format_value

Step = tuple[str, str, str]


@dataclass(frozen=True)
class Problem:
    family: str
    question: str
    steps: tuple[Step, ...]
    """(lead words, expression, value); the last step's value is the answer."""

    @property
    def answer(self) -> str:
        return self.steps[-1][2]

    @property
    def multi_step(self) -> bool:
        return len(self.steps) > 1


NAMES = ("Maya", "Omar", "Priya", "Leo", "Grace", "Hugo", "Nina", "Sam", "Iris", "Felix", "Rosa", "Dev", "Kai",
         "Lila", "Ben", "Zoe", "Arjun", "Mia", "Theo", "Ava")
THINGS = ("stamps", "beads", "crayons", "shells", "cards", "buttons", "coins", "stickers", "bolts", "tiles")
CONTAINERS = ("crates", "trays", "jars", "boxes", "sacks", "cartons", "bins", "packets")
GOODS = ("notebook", "lamp", "scarf", "mug", "kite", "puzzle", "candle", "plant", "poster", "wallet")


# Numbers of four digits and more are written with thousands separators in questions
# (`3,208 crayons`), as the eval's questions write them; the calls take them without
# (`3208 - 672`): a tuned model that never saw a separator copied `2,385` as `2.385`.


def num(value: Fraction | int | float | str) -> str:
    """A value as the calculator writes it."""
    fraction = value if isinstance(value, Fraction) else Fraction(str(value))
    return format_value(fraction)


def money(rng: random.Random, low: int, high: int) -> str:
    """A price with cents, e.g. 4.35."""
    return f"{rng.randint(low, high)}.{rng.choice(range(5, 100, 5)):02d}"


def step(lead: str, expression: str) -> Step:
    value = evaluate(expression)
    assert value is not None, expression
    return (lead, expression, num(value))


Family = Callable[[random.Random], Problem]


def _product(rng: random.Random) -> Problem:
    name, thing, box = rng.choice(NAMES), rng.choice(THINGS), rng.choice(CONTAINERS)
    a, b = rng.randint(6, 64), rng.randint(12, 150)
    return Problem("product", f"{name} fills {a} {box} and puts {b} {thing} into every one. How many {thing} "
                   f"does {name} use?", (step(f"{a} {box} of {b} is", f"{a} * {b}"),))


def _quotient(rng: random.Random) -> Problem:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    b, q = rng.randint(4, 48), rng.randint(12, 95)
    return Problem("quotient", f"{name} splits {b * q:,} {thing} into {b} equal piles. How many {thing} end up "
                   "in one pile?", (step(f"{b * q} split {b} ways is", f"{b * q} / {b}"),))


def _sum(rng: random.Random) -> Problem:
    name = rng.choice(NAMES)
    a, b = rng.randint(120, 4800), rng.randint(120, 4800)
    return Problem("sum", f"On Saturday {name}'s stall had {a:,} visitors, and on Sunday it had {b:,}. What was "
                   "the weekend's total?", (step("Together that is", f"{a} + {b}"),))


def _difference(rng: random.Random) -> Problem:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    a = rng.randint(900, 9000)
    b = rng.randint(100, a - 50)
    return Problem("difference", f"{name} collected {a:,} {thing} and traded away {b:,}. How many {thing} remain?",
                   (step(f"{a} minus {b} is", f"{a} - {b}"),))


def _percent_of(rng: random.Random) -> Problem:
    p, whole = rng.choice((5, 10, 12, 15, 20, 25, 30, 40, 45, 60, 75, 80)), rng.randint(4, 90) * 20
    return Problem("percent_of", f"A survey asked {whole:,} people, and {p}% of them said yes. How many people "
                   "said yes?", (step(f"{p}% of {whole} is", f"{whole} * {p} / 100"),))


def _share_percent(rng: random.Random) -> Problem:
    whole = rng.choice((20, 25, 40, 50, 80, 200, 250, 400, 500))
    part = rng.randint(1, whole - 1)
    return Problem("share_percent", f"Of the {whole} trees in an orchard, {part} are pear trees. Which percent "
                   "of the orchard is pear trees?", (step(f"{part} out of {whole} is", f"{part} / {whole} * 100"),))


def _unit_cost(rng: random.Random) -> Problem:
    good, n, price = rng.choice(GOODS), rng.randint(2, 40), money(rng, 1, 60)
    return Problem("unit_cost", f"One {good} is priced at ${price}. What do {n} of them cost, in dollars?",
                   (step(f"{n} at ${price} is", f"{n} * {price}"),))


def _area(rng: random.Random) -> Problem:
    a, b = rng.randint(6, 95), rng.randint(4, 60)
    return Problem("area", f"A patio measures {a} feet by {b} feet. How many square feet does it cover?",
                   (step(f"{a} by {b} is", f"{a} * {b}"),))


def _speed(rng: random.Random) -> Problem:
    v, t = rng.randint(35, 95), rng.randint(2, 9)
    return Problem("speed", f"A train keeps a speed of {v} miles per hour for {t} hours. How far does it go, "
                   "in miles?", (step(f"{t} hours at {v} is", f"{v} * {t}"),))


def _buy_and_change(rng: random.Random) -> Problem:
    name, good, n = rng.choice(NAMES), rng.choice(GOODS), rng.randint(2, 9)
    price = money(rng, 1, 9)
    paid = rng.choice((20, 50, 100))
    cost = n * Fraction(price)
    if cost > paid:
        paid = min(p for p in (20, 50, 100) if p >= cost)
    return Problem("buy_and_change", f"{name} picks {n} {good}s at ${price} apiece and hands over ${paid}. What "
                   "change comes back, in dollars?",
                   (step(f"The {good}s cost", f"{n} * {price}"), step(f"Out of ${paid},", f"{paid} - {n} * {price}")))


def _groups_minus(rng: random.Random) -> Problem:
    name, thing, box = rng.choice(NAMES), rng.choice(THINGS), rng.choice(CONTAINERS)
    a, b = rng.randint(3, 25), rng.randint(10, 60)
    c = rng.randint(5, a * b - 5)
    first = step(f"{a} {box} of {b} is", f"{a} * {b}")
    return Problem("groups_minus", f"{name} had {a} {box} with {b} {thing} each, then lost {c} {thing}. How "
                   f"many {thing} are left?", (first, step(f"After losing {c},", f"{first[2]} - {c}")))


def _wage_bonus(rng: random.Random) -> Problem:
    name, rate, hours, bonus = rng.choice(NAMES), rng.randint(11, 48), rng.randint(6, 45), rng.randint(20, 300)
    first = step(f"{hours} hours at ${rate} is", f"{rate} * {hours}")
    return Problem("wage_bonus", f"{name} is paid ${rate} per hour, works {hours} hours and also receives a "
                   f"${bonus} tip. How many dollars is that altogether?",
                   (first, step(f"With the ${bonus} tip,", f"{first[2]} + {bonus}")))


def _discount(rng: random.Random) -> Problem:
    good, price, p = rng.choice(GOODS), rng.randint(8, 90) * 5, rng.choice((10, 15, 20, 25, 30, 40, 50))
    first = step(f"{p}% of ${price} is", f"{price} * {p} / 100")
    return Problem("discount", f"A {good} normally sells for ${price}, and today it is marked {p}% down. What "
                   "does it sell for today, in dollars?", (first, step(f"Taken off ${price},", f"{price} - {first[2]}")))


def _two_purchases(rng: random.Random) -> Problem:
    g1, g2 = rng.sample(GOODS, 2)
    n1, n2, p1, p2 = rng.randint(2, 30), rng.randint(2, 30), rng.randint(3, 80), rng.randint(3, 80)
    a, b = step(f"The {g1}s come to", f"{n1} * {p1}"), step(f"The {g2}s come to", f"{n2} * {p2}")
    return Problem("two_purchases", f"A club orders {n1} {g1}s for ${p1} each and {n2} {g2}s for ${p2} each. "
                   "What is the bill in dollars?", (a, b, step("Adding the two,", f"{a[2]} + {b[2]}")))


def _in_out(rng: random.Random) -> Problem:
    a, b, c = rng.randint(200, 900), rng.randint(20, 190), rng.randint(20, 400)
    first = step(f"After {b} leave,", f"{a} - {b}")
    return Problem("in_out", f"A ferry carries {a} passengers. At the first stop {b} get off and {c} get on. How "
                   "many passengers are aboard now?", (first, step(f"After {c} board,", f"{first[2]} + {c}")))


def _share_after_total(rng: random.Random) -> Problem:
    n, per, k = rng.randint(3, 12), rng.randint(12, 60), rng.choice((2, 3, 4, 5, 6))
    total = n * per
    while total % k:
        per += 1
        total = n * per
    first = step(f"{n} rolls of {per} is", f"{n} * {per}")
    return Problem("share_after_total", f"{n} rolls hold {per} stickers each, and the stickers are shared "
                   f"evenly by {k} kids. How many stickers does each kid get?",
                   (first, step(f"Split {k} ways,", f"{first[2]} / {k}")))


def _missing_score(rng: random.Random) -> Problem:
    n = rng.choice((3, 4, 5))
    scores = [rng.randint(60, 99) for _ in range(n - 1)]
    last = rng.randint(60, 99)
    mean = Fraction(sum(scores) + last, n)
    while mean.denominator != 1:
        last += 1
        mean = Fraction(sum(scores) + last, n)
    first = step(f"{n} games at a mean of {num(mean)} make", f"{n} * {num(mean)}")
    listed = ", ".join(str(s) for s in scores)
    rest = " - ".join(str(s) for s in scores)
    return Problem("missing_score", f"A bowler's mean over {n} games is {num(mean)}. The first games scored "
                   f"{listed}. What did the last game score?", (first, step(f"Taking away {listed},", f"{first[2]} - {rest}")))


def _fleet(rng: random.Random) -> Problem:
    v, t, c = rng.randint(3, 14), rng.randint(2, 6), rng.randint(12, 80)
    first = step(f"{v} vans making {t} runs is", f"{v} * {t}")
    return Problem("fleet", f"A courier has {v} vans. Every van makes {t} runs a day and drops {c} parcels per "
                   "run. How many parcels go out each day?", (first, step(f"At {c} parcels a run,", f"{first[2]} * {c}")))


def _rent_rise(rng: random.Random) -> Problem:
    name, rent, p = rng.choice(NAMES), rng.randint(12, 60) * 50, rng.choice((2, 3, 4, 5, 6, 8, 10, 12))
    first = step(f"{p}% of ${rent:,} is", f"{rent} * {p} / 100")
    return Problem("rent_rise", f"{name} pays ${rent:,} in rent, and next year it rises by {p}%. What will the "
                   "rent be, in dollars?", (first, step(f"Added to ${rent:,},", f"{rent} + {first[2]}")))


def _bundle_price(rng: random.Random) -> Problem:
    good, k, m = rng.choice(GOODS), rng.choice((2, 4, 5, 8, 10)), rng.randint(3, 30)
    unit = rng.randint(2, 40) + rng.choice((0, 0.5, 0.25, 0.75))
    total = num(Fraction(str(unit)) * k)
    first = step(f"One {good} is", f"{total} / {k}")
    return Problem("bundle_price", f"A bundle of {k} {good}s sells for ${total}. At that rate, what would {m} "
                   f"{good}s cost, in dollars?", (first, step(f"For {m} of them,", f"{first[2]} * {m}")))


def _laps(rng: random.Random) -> Problem:
    name, lap, n = rng.choice(NAMES), rng.choice((200, 250, 400, 500, 800)), rng.randint(3, 40)
    first = step(f"{n} laps of {lap} meters is", f"{n} * {lap}")
    return Problem("laps", f"{name} jogs {n} laps of a {lap} meter track. How many kilometers does {name} cover?",
                   (first, step("In kilometers,", f"{first[2]} / 1000")))


def _split_then_spend(rng: random.Random) -> Problem:
    k, each, spent = rng.choice((2, 3, 4, 5, 6)), rng.randint(40, 900), rng.randint(5, 39)
    first = step(f"${k * each:,} split {k} ways is", f"{k * each} / {k}")
    return Problem("split_then_spend", f"{k} cousins divide a ${k * each:,} prize evenly, and each cousin then "
                   f"spends ${spent}. How many dollars does one cousin keep?",
                   (first, step(f"After spending ${spent},", f"{first[2]} - {spent}")))


def _times_that_many(rng: random.Random) -> Problem:
    a, b = rng.sample(NAMES, 2)
    thing, n, m = rng.choice(THINGS), rng.randint(30, 400), rng.randint(2, 6)
    first = step(f"{b} owns", f"{m} * {n}")
    return Problem("times_that_many", f"{a} owns {n} {thing}. {b} owns {m} times that many. How many {thing} do "
                   "the two own between them?", (first, step(f"With {a}'s {n},", f"{n} + {first[2]}")))


ONE_STEP: tuple[Family, ...] = (_product, _quotient, _sum, _difference, _percent_of, _share_percent, _unit_cost,
                                _area, _speed)
MULTI_STEP: tuple[Family, ...] = (_buy_and_change, _groups_minus, _wage_bonus, _discount, _two_purchases, _in_out,
                                  _share_after_total, _missing_score, _fleet, _rent_rise, _bundle_price, _laps,
                                  _split_then_spend, _times_that_many)


EQUATIONS, WORDS, ANSWER, DIRECT = 0, 1, 2, 3
"""The solution shapes: the equation per step; words per step; the answer layout, where
a multi-step answer's last step keeps its lead words before "the answer is" (`Out of $20,
the answer is 7.5.`): the words name the operand the last call needs, which the model,
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
    word = sentence.split(" ", 1)[0]
    return sentence[0].lower() + sentence[1:] if word in ("The", "One", "After") else sentence


def render(problem: Problem, shape: int) -> str:
    return f"Question: {problem.question}\nAnswer: {solution(problem, shape)}"


def problems(n: int, *, seed: int = 0, multi_share: float = 0.5) -> Iterator[Problem]:
    """`n` generated problems, about `multi_share` of them multi-step, distinct questions."""
    rng = random.Random(seed)
    seen: set[str] = set()
    while len(seen) < n:
        family = rng.choice(MULTI_STEP if rng.random() < multi_share else ONE_STEP)
        problem = family(rng)
        if problem.question not in seen:
            seen.add(problem.question)
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
