"""Two-step word problems in the shapes most everyday questions take (a product and then
a sum or a difference, a difference and then another, a budget less a product, three
factors), each shape in several settings, so that the tuned model meets a shape in more
than one wording. The second step's lead words are the shape's own and name both of its
numbers (`Taking 95 from 486,`): see `agent.training.families`."""

from __future__ import annotations

import random
from collections.abc import Callable

from agent.training.families import NAMES, Problem, two_steps

Setting = tuple[str, str]
"""(question, the first step's lead words), with `{a}`, `{b}`, `{c}` for the numbers
(the question writes them with thousands separators) and `{n}` for a name."""

Draw = Callable[[random.Random], tuple[int, int, int]]


def _groups(rng: random.Random) -> tuple[int, int, int]:
    a, b = rng.randint(3, 40), rng.randint(6, 60)
    return a, b, rng.randint(5, max(6, a * b - 5))


def _runs(rng: random.Random) -> tuple[int, int, int]:
    a = rng.randint(120, 2400)
    b = rng.randint(10, a // 2)
    return a, b, rng.randint(10, a // 2)


def _budget(rng: random.Random) -> tuple[int, int, int]:
    a, b = rng.randint(2, 12), rng.randint(3, 60)
    return a, b, a * b + rng.randint(5, 400)


def _factors(rng: random.Random) -> tuple[int, int, int]:
    return rng.randint(2, 12), rng.randint(3, 30), rng.randint(4, 60)


def _family(name: str, draw: Draw, first: str, then: str, settings: tuple[Setting, ...],
            last: str) -> Callable[[random.Random], Problem]:
    """A family of one shape: `first` and `then` are the steps' expressions and `last`
    the second step's lead words (`{}` in `then` and `last` stands for the first step's
    value)."""

    def family(rng: random.Random) -> Problem:
        question, lead = rng.choice(settings)
        a, b, c = draw(rng)
        who = rng.choice(NAMES)
        asked = question.format(a=f"{a:,}", b=f"{b:,}", c=f"{c:,}", n=who)  # as the eval's questions write them
        return two_steps(name, asked, (lead.format(a=a, b=b, c=c, n=who), first.format(a=a, b=b, c=c)),
                         (last.format("{}", a=a, b=b, c=c), then.format("{}", a=a, b=b, c=c)))

    family.__name__ = f"_{name}"
    return family


_product_less = _family("product_less", _groups, "{a} * {b}", "{} - {c}", (
    ("A bakery bakes {a} trays of {b} rolls, and {c} rolls are sold by noon. How many rolls are still on the "
     "shelves?", "{a} trays of {b} is"),
    ("A car park has {a} levels with {b} spaces on each level, and {c} cars are parked. How many spaces are "
     "open?", "{a} levels of {b} is"),
    ("{n} prints {a} sheets with {b} labels per sheet and sticks on {c} labels. How many labels are unused?",
     "{a} sheets of {b} is"),
    ("A camp puts up {a} tents that sleep {b} each, and {c} campers arrive. How many beds stay empty?",
     "{a} tents for {b} is"),
    ("A library receives {a} cartons holding {b} books apiece and lends out {c} of them. How many of those "
     "books remain on the shelves?", "{a} cartons of {b} is"),
), "Taking {c} from {},")

_product_plus = _family("product_plus", _groups, "{a} * {b}", "{} + {c}", (
    ("{n} saves ${a} every week for {b} weeks and is then given ${c}. How many dollars has {n} got?",
     "{b} weeks at ${a} is"),
    ("A choir stands in {a} rows of {b} singers, with {c} soloists in front. How many performers are on "
     "stage?", "{a} rows of {b} is"),
    ("A stand sells {a} baskets holding {b} plums each plus {c} loose plums. How many plums does it sell?",
     "{a} baskets of {b} is"),
    ("A press prints {a} pages a minute for {b} minutes, then {c} pages more. How many pages does it print?",
     "{b} minutes at {a} is"),
), "Adding {c} to {},")

_less_then_more = _family("less_then_more", _runs, "{a} - {b}", "{} + {c}", (
    ("A parking lot holds {a} cars. During the morning {b} drive out and {c} drive in. How many cars are in "
     "the lot?", "{a} cars less the {b} that left is"),
    ("{n} has ${a} in an account, withdraws ${b} and deposits ${c}. What is the balance in dollars?",
     "${a} less ${b} is"),
    ("A shelter houses {a} birds; {b} are released and {c} are brought in. How many birds does it house "
     "now?", "{a} birds less {b} released is"),
), "Adding {c} to {},")

_less_twice = _family("less_twice", _runs, "{a} - {b}", "{} - {c}", (
    ("A tank holds {a} liters. {b} liters drain out on Monday and {c} liters on Tuesday. How many liters are "
     "left?", "{a} liters less Monday's {b} is"),
    ("{n} had {a} tickets to sell, sold {b} on Friday and {c} on Saturday. How many tickets are unsold?",
     "{a} tickets less the {b} sold Friday is"),
    ("A road crew must pave {a} meters. It paves {b} meters in week one and {c} meters in week two. How many "
     "meters are still unpaved?", "{a} meters less week one's {b} is"),
), "Taking {c} from {},")

_budget_less = _family("budget_less", _budget, "{a} * {b}", "{c} - {}", (
    ("{n} has ${c} and buys {a} tickets at ${b} each. How many dollars does {n} have left?",
     "{a} tickets at ${b} is"),
    ("A bolt of {c} meters of cloth gives {a} pieces of {b} meters. How many meters are left over?",
     "{a} pieces of {b} is"),
    ("A sack holds {c} grams of rice, and {a} meals use {b} grams each. How many grams remain in the sack?",
     "{a} meals of {b} is"),
), "Taking {} from {c},")

_three_factors = _family("three_factors", _factors, "{a} * {b}", "{} * {c}", (
    ("A cafe opens {a} days a month and sells {c} pies a day. How many pies does it sell in {b} months?",
     "{b} months of {a} days is"),
    ("A crate has {a} layers of {b} cartons, and each carton holds {c} eggs. How many eggs are in the crate?",
     "{a} layers of {b} is"),
    ("{n} trains {a} hours a day, {b} days a month, burning {c} calories an hour. How many calories is that "
     "in a month?", "{b} days of {a} hours is"),
), "{} times {c},")

CHAINS = (_product_less, _product_plus, _less_then_more, _less_twice, _budget_less, _three_factors)
