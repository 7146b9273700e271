"""The word-problem templates of the generated corpus: one function per family, each
drawing its numbers from a `random.Random` and returning the question with its worked
steps. None of them uses a wording of the arithmetic eval (`tests/test_training_corpus.py`).

A step's lead words say what it computes, with the numbers it takes (`531 less the 58 who
get off is`, `Adding 222 to 473,`), and a first step's end in "is". They are what the
base model reads when it proposes calls for the corpus: after `First, after 58 leave,` it
proposed calls on the one number the words gave (`58 * 1`, `1 + 58`; no call kept in 11
such problems, run 28 in benchmarks/RESULTS.md), and for a last step it proposed the right
operation mostly when the words named both numbers. With compound calls the lead words
are not in the training text at all (`agent.training.compound`)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

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


def two_steps(family: str, question: str, first: tuple[str, str], then: tuple[str, str]) -> Problem:
    """A problem of two steps, each (lead words, expression); `{}` in the second
    step's lead words and expression stands for the first step's value."""
    done = step(*first)
    return Problem(family, question, (done, step(then[0].replace("{}", done[2]), then[1].format(done[2]))))


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
                   (step(f"{n} {good}s at ${price} is", f"{n} * {price}"),
                    step(f"Taking {num(cost)} from ${paid},", f"{paid} - {n} * {price}")))


def _groups_minus(rng: random.Random) -> Problem:
    name, thing, box = rng.choice(NAMES), rng.choice(THINGS), rng.choice(CONTAINERS)
    a, b = rng.randint(3, 25), rng.randint(10, 60)
    c = rng.randint(5, a * b - 5)
    return two_steps("groups_minus", f"{name} had {a} {box} with {b} {thing} each, then lost {c} {thing}. How "
                     f"many {thing} are left?",
                     (f"{a} {box} of {b} is", f"{a} * {b}"), (f"Taking {c} from {{}},", f"{{}} - {c}"))


def _wage_bonus(rng: random.Random) -> Problem:
    name, rate, hours, bonus = rng.choice(NAMES), rng.randint(11, 48), rng.randint(6, 45), rng.randint(20, 300)
    return two_steps("wage_bonus", f"{name} is paid ${rate} per hour, works {hours} hours and also receives a "
                     f"${bonus} tip. How many dollars is that altogether?",
                     (f"{hours} hours at ${rate} is", f"{rate} * {hours}"),
                     (f"Adding the ${bonus} tip to {{}},", f"{{}} + {bonus}"))


def _discount(rng: random.Random) -> Problem:
    good, price, p = rng.choice(GOODS), rng.randint(8, 90) * 5, rng.choice((10, 15, 20, 25, 30, 40, 50))
    return two_steps("discount", f"A {good} normally sells for ${price}, and today it is marked {p}% down. What "
                     "does it sell for today, in dollars?",
                     (f"{p}% of ${price} is", f"{price} * {p} / 100"),
                     (f"Taking {{}} off ${price},", f"{price} - {{}}"))


def _two_purchases(rng: random.Random) -> Problem:
    g1, g2 = rng.sample(GOODS, 2)
    n1, n2, p1, p2 = rng.randint(2, 30), rng.randint(2, 30), rng.randint(3, 80), rng.randint(3, 80)
    a, b = step(f"{n1} {g1}s at ${p1} is", f"{n1} * {p1}"), step(f"{n2} {g2}s at ${p2} is", f"{n2} * {p2}")
    return Problem("two_purchases", f"A club orders {n1} {g1}s for ${p1} each and {n2} {g2}s for ${p2} each. "
                   "What is the bill in dollars?", (a, b, step(f"Adding {a[2]} and {b[2]},", f"{a[2]} + {b[2]}")))


def _in_out(rng: random.Random) -> Problem:
    a, b, c = rng.randint(200, 900), rng.randint(20, 190), rng.randint(20, 400)
    return two_steps("in_out", f"A ferry carries {a} passengers. At the first stop {b} get off and {c} get on. How "
                     "many passengers are aboard now?",
                     (f"{a} less the {b} who get off is", f"{a} - {b}"),
                     (f"Adding the {c} who get on to {{}},", f"{{}} + {c}"))


def _share_after_total(rng: random.Random) -> Problem:
    n, per, k = rng.randint(3, 12), rng.randint(12, 60), rng.choice((2, 3, 4, 5, 6))
    total = n * per
    while total % k:
        per += 1
        total = n * per
    return two_steps("share_after_total", f"{n} rolls hold {per} stickers each, and the stickers are shared "
                     f"evenly by {k} kids. How many stickers does each kid get?",
                     (f"{n} rolls of {per} is", f"{n} * {per}"), (f"Splitting {{}} {k} ways,", f"{{}} / {k}"))


def _missing_score(rng: random.Random) -> Problem:
    n = rng.choice((3, 4, 5))
    scores = [rng.randint(60, 99) for _ in range(n - 1)]
    last = rng.randint(60, 99)
    mean = Fraction(sum(scores) + last, n)
    while mean.denominator != 1:
        last += 1
        mean = Fraction(sum(scores) + last, n)
    listed = ", ".join(str(s) for s in scores)
    rest = " - ".join(str(s) for s in scores)
    return two_steps("missing_score", f"A bowler's mean over {n} games is {num(mean)}. The first games scored "
                     f"{listed}. What did the last game score?",
                     (f"{n} games at a mean of {num(mean)} is", f"{n} * {num(mean)}"),
                     (f"Taking {listed} away from {{}},", f"{{}} - {rest}"))


def _fleet(rng: random.Random) -> Problem:
    v, t, c = rng.randint(3, 14), rng.randint(2, 6), rng.randint(12, 80)
    return two_steps("fleet", f"A courier has {v} vans. Every van makes {t} runs a day and drops {c} parcels per "
                     "run. How many parcels go out each day?",
                     (f"{v} vans making {t} runs is", f"{v} * {t}"), (f"{{}} runs at {c} parcels each,", f"{{}} * {c}"))


def _rent_rise(rng: random.Random) -> Problem:
    name, rent, p = rng.choice(NAMES), rng.randint(12, 60) * 50, rng.choice((2, 3, 4, 5, 6, 8, 10, 12))
    return two_steps("rent_rise", f"{name} pays ${rent:,} in rent, and next year it rises by {p}%. What will the "
                     "rent be, in dollars?",
                     (f"{p}% of ${rent:,} is", f"{rent} * {p} / 100"), (f"Adding {{}} to ${rent:,},", f"{rent} + {{}}"))


def _bundle_price(rng: random.Random) -> Problem:
    good, k, m = rng.choice(GOODS), rng.choice((2, 4, 5, 8, 10)), rng.randint(3, 30)
    unit = rng.randint(2, 40) + rng.choice((0, 0.5, 0.25, 0.75))
    total = num(Fraction(str(unit)) * k)
    return two_steps("bundle_price", f"A bundle of {k} {good}s sells for ${total}. At that rate, what would {m} "
                     f"{good}s cost, in dollars?",
                     (f"${total} split {k} ways is", f"{total} / {k}"), (f"{m} of them at ${{}},", f"{{}} * {m}"))


def _laps(rng: random.Random) -> Problem:
    name, lap, n = rng.choice(NAMES), rng.choice((200, 250, 400, 500, 800)), rng.randint(3, 40)
    return two_steps("laps", f"{name} jogs {n} laps of a {lap} meter track. How many kilometers does {name} cover?",
                     (f"{n} laps of {lap} meters is", f"{n} * {lap}"), ("{} meters in kilometers,", "{} / 1000"))


def _split_then_spend(rng: random.Random) -> Problem:
    k, each, spent = rng.choice((2, 3, 4, 5, 6)), rng.randint(40, 900), rng.randint(5, 39)
    return two_steps("split_then_spend", f"{k} cousins divide a ${k * each:,} prize evenly, and each cousin then "
                     f"spends ${spent}. How many dollars does one cousin keep?",
                     (f"${k * each:,} split {k} ways is", f"{k * each} / {k}"),
                     (f"Taking ${spent} from {{}},", f"{{}} - {spent}"))


def _times_that_many(rng: random.Random) -> Problem:
    a, b = rng.sample(NAMES, 2)
    thing, n, m = rng.choice(THINGS), rng.randint(30, 400), rng.randint(2, 6)
    return two_steps("times_that_many", f"{a} owns {n} {thing}. {b} owns {m} times that many. How many {thing} do "
                     "the two own between them?",
                     (f"{m} times {n} is", f"{m} * {n}"), (f"Adding {a}'s {n} to {{}},", f"{n} + {{}}"))


ONE_STEP: tuple[Family, ...] = (_product, _quotient, _sum, _difference, _percent_of, _share_percent, _unit_cost,
                                _area, _speed)
MULTI_STEP: tuple[Family, ...] = (_buy_and_change, _groups_minus, _wage_bonus, _discount, _two_purchases, _in_out,
                                  _share_after_total, _missing_score, _fleet, _rent_rise, _bundle_price, _laps,
                                  _split_then_spend, _times_that_many)

