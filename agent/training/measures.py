"""One-step word problems about measures: units converted, rates turned into counts and
times, things packed by the group, a tip as a share of a bill. They widen the corpus's
one-step problems beyond products, where its first nine families lean (four of them
multiply): a model tuned without them answered division questions with subtraction and
wrote `3 * 100` for the seconds in 3 hours (benchmarks/RESULTS.md, runs 61 to 64). The
wordings are their own, none of the arithmetic eval's (`tests/test_training_corpus.py`)."""

from __future__ import annotations

import random

from agent.training.families import CONTAINERS, NAMES, THINGS, Family, Problem, step

UNITS = (("hours", "minutes", 60), ("minutes", "seconds", 60), ("days", "hours", 24), ("meters", "millimeters", 1000),
         ("meters", "centimeters", 100), ("kilometers", "meters", 1000), ("kilograms", "grams", 1000),
         ("liters", "milliliters", 1000), ("feet", "inches", 12), ("dollars", "cents", 100))
"""(larger unit, smaller unit, how many of the smaller make one of the larger): factors
the filter takes without their being in the text (`sampling.CONSTANTS`)."""


def _smaller_unit(rng: random.Random) -> Problem:
    big, small, factor = rng.choice(UNITS)
    n = rng.randint(2, 48)
    return Problem("smaller_unit", f"{rng.choice(NAMES)} writes down a measure of {n} {big}. Written in {small}, "
                   "what is that measure?", (step(f"{n} {big} of {factor} {small} is", f"{n} * {factor}"),))


def _larger_unit(rng: random.Random) -> Problem:
    big, small, factor = rng.choice(UNITS)
    parts = rng.choice((1, 2, 4)) if factor % 4 == 0 else 1
    n = rng.randint(2 * parts, 90 * parts) * factor // parts
    return Problem("larger_unit", f"A log book records {n:,} {small}. Written in {big}, what does the log book "
                   "record?", (step(f"{n} {small} at {factor} to one of the {big} is", f"{n} / {factor}"),))


def _packing(rng: random.Random) -> Problem:
    name, thing, box = rng.choice(NAMES), rng.choice(THINGS), rng.choice(CONTAINERS)
    per, count = rng.randint(6, 48), rng.randint(12, 120)
    return Problem("packing", f"{name} has {per * count:,} {thing} to store, and {per} fit in each of the {box}. "
                   f"How many {box} get filled?",
                   (step(f"{per * count} in groups of {per} is", f"{per * count} / {per}"),))


def _time_at_rate(rng: random.Random) -> Problem:
    rate, minutes = rng.randint(8, 90), rng.randint(6, 75)
    return Problem("time_at_rate", f"A pump moves {rate} gallons each minute. How many minutes does it need to "
                   f"move {rate * minutes:,} gallons?",
                   (step(f"{rate * minutes} gallons at {rate} a minute is", f"{rate * minutes} / {rate}"),))


def _pace(rng: random.Random) -> Problem:
    per_hour, hours = rng.randint(8, 70), rng.randint(2, 12)
    return Problem("pace", f"Riding at a steady pace, a cyclist covers {per_hour * hours} miles in {hours} hours. "
                   "How many miles go by in each hour?",
                   (step(f"{per_hour * hours} miles over {hours} hours is", f"{per_hour * hours} / {hours}"),))


def _tip(rng: random.Random) -> Problem:
    bill, p = rng.randint(12, 240), rng.choice((10, 12, 15, 18, 20, 25))
    return Problem("tip", f"Dinner for {rng.choice(NAMES)}'s family comes to ${bill}, and they leave {p}% of it as "
                   "a tip. What is the tip, in dollars?", (step(f"{p}% of ${bill} is", f"{bill} * {p} / 100"),))


MEASURES: tuple[Family, ...] = (_smaller_unit, _larger_unit, _packing, _time_at_rate, _pace, _tip)
