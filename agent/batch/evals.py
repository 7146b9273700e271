"""Eval items on a pool: one unit per configuration × item, each asked on a worker as
`agent eval` asks it in one process, and the outcomes put back in the local order, so
the rows are the same as a local run's. A model that cannot be loaded stops the run with
the `UserError` a local run raises (no worker can fix it, so it is not retried)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from agent.batch.pool import Pool, UnitDone, UnitFailed
from agent.batch.work import WorkerState
from agent.evals import arithmetic, bfcl
from agent.errors import InterleafError, UserError
from agent.evals.runner import ItemOutcome, Setup
from agent.models import resolve_model
from agent.models.base import Model

Item = arithmetic.Problem | bfcl.Case


@dataclass(frozen=True)
class Unloadable:
    """What a unit returns when its worker could not load the model: the error's text
    (the error itself may not survive the trip back to the driver)."""

    spec: str
    message: str


@dataclass(frozen=True)
class EvalUnit:
    key: str
    task: str
    setup: Setup
    item: Item
    style: str = "single"
    """arithmetic: the baseline's examples."""
    max_tokens: int = 96
    """bfcl: completion tokens per item."""

    def execute(self, worker: WorkerState) -> ItemOutcome | Unloadable:
        try:
            model = worker.model(self.setup.model)
        except InterleafError as exc:
            return Unloadable(self.setup.model, str(exc))
        if isinstance(self.item, arithmetic.Problem):
            outcomes = arithmetic.run(self.setup, model, [self.item], tools=worker.tools(), style=self.style)
        else:
            outcomes = bfcl.run(self.setup, model, [self.item], max_tokens=self.max_tokens)
        return next(iter(outcomes))


def load_eval_model(spec: str | None, threads: int) -> Model:
    """The loader of eval workers: a model as `agent eval` loads it, with the worker's threads."""
    return resolve_model(spec, n_threads=threads)


def eval_units(task: str, setups: Sequence[Setup], items: Sequence[Item], *, style: str = "single",
               max_tokens: int = 96) -> list[EvalUnit]:
    return [EvalUnit(f"{n}:{item.id}", task, setup, item, style, max_tokens)
            for n, setup in enumerate(setups) for item in items]


def run_units(units: Sequence[EvalUnit], pool: Pool,
              on_outcome: Callable[[EvalUnit, ItemOutcome], None] | None = None) -> Iterator[tuple[Setup, list[ItemOutcome]]]:
    """Each configuration with its outcomes in item order, as soon as all of them are in.
    An item that failed on two workers counts as wrong, its reason as its text; a model
    that no worker could load raises `UserError` with the loader's message."""
    by_key = {unit.key: unit for unit in units}
    expected: dict[Setup, list[str]] = {}
    for unit in units:
        expected.setdefault(unit.setup, []).append(unit.key)
    got: dict[str, ItemOutcome] = {}
    for event in pool.run(units):
        if isinstance(event, UnitDone):
            if isinstance(event.value, Unloadable):
                raise UserError(event.value.message)
            assert isinstance(event.value, ItemOutcome)
            outcome = event.value
        elif isinstance(event, UnitFailed):
            unit = by_key[event.key]
            answer = unit.item.answer if isinstance(unit.item, arithmetic.Problem) else unit.item.answers
            outcome = ItemOutcome(unit.item.id, False, 0, 0, 0, 0.0, "", str(answer), event.reason, "error")
        else:
            continue
        got[event.key] = outcome
        setup = by_key[event.key].setup
        if on_outcome is not None:
            on_outcome(by_key[event.key], outcome)
        if all(key in got for key in expected[setup]):
            yield setup, [got[key] for key in expected.pop(setup)]
