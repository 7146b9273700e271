"""What every eval shares: configurations, per-item outcomes and their summary."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from agent.events import RunResult
from agent.tasks.state import Overrides


@dataclass(frozen=True)
class Setup:
    """One configuration of the agent under test: the agent a user gets (`agent run
    --single`, the model's recipe), or that with settings changed, named in its label."""

    model: str
    tools: bool = True
    """False: the no-tools baseline (the same problems worked as written equations)."""
    grammar: bool | None = None
    """Decode calls under the tools' grammars; None: the model's recipe."""
    k: int | None = None
    """Top-k call trigger (0: none); None: the model's recipe."""
    check: bool | None = None
    """Recompute written arithmetic; None: the model's recipe."""

    @property
    def overrides(self) -> Overrides:
        return Overrides(grammar=self.grammar, trigger_k=self.k, check_arithmetic=self.check)

    @property
    def label(self) -> str:
        if not self.tools:
            return "no tools" + (" + check" if self.check else "")
        changed: list[str] = []
        if self.grammar is not None:
            changed.append("grammar" if self.grammar else "no grammar")
        if self.k is not None:
            changed.append(f"k={self.k}")
        if self.check is not None:
            changed.append("check" if self.check else "no check")
        return " + ".join(["agent defaults", *changed]) if changed else "agent defaults"


def grid(models: Sequence[str], tools: Sequence[bool], grammar: Sequence[bool | None], ks: Sequence[int | None],
         check: Sequence[bool | None]) -> list[Setup]:
    """Every combination, without the ones that differ only in settings that need tools."""
    seen: dict[Setup, None] = {}
    for model, use_tools, use_grammar, k, use_check in itertools.product(models, tools, grammar, ks, check):
        setup = Setup(model, use_tools, use_grammar if use_tools else None, k if use_tools else None, use_check)
        seen.setdefault(setup, None)
    return list(seen)


@dataclass(frozen=True)
class ItemOutcome:
    """One item of one configuration."""

    item: str
    correct: bool
    calls: int
    failed_calls: int
    tokens: int
    seconds: float
    predicted: str
    expected: str
    text: str
    stop: str


def item_outcome(item: str, result: RunResult, *, correct: bool, predicted: object, expected: object) -> ItemOutcome:
    failed = sum(1 for c in result.calls if not c.ok)
    return ItemOutcome(
        item=item, correct=correct, calls=len(result.calls), failed_calls=failed,
        tokens=result.usage.completion_tokens, seconds=result.seconds, predicted=str(predicted),
        expected=str(expected), text=result.text, stop=result.stop_reason.value,
    )


def failure(item: str, error: Exception, *, expected: object) -> ItemOutcome:
    """An item whose run raised (e.g. a prompt too long for the context window)."""
    return ItemOutcome(item, False, 0, 0, 0, 0.0, "", str(expected), f"{type(error).__name__}: {error}", "error")


@dataclass(frozen=True)
class Row:
    """The summary of one configuration on one task."""

    task: str
    model: str
    config: str
    items: int
    accuracy: float
    call_rate: float
    """Share of items in which the model made at least one call."""
    malformed_rate: float
    """Share of calls that came back as errors (malformed, unknown tool, bad arguments,
    or the tool refused them)."""
    tokens: float
    """Mean completion tokens per item."""
    seconds: float
    """Mean wall-clock seconds per item."""


def summarize(task: str, setup: Setup, outcomes: Sequence[ItemOutcome]) -> Row:
    n = max(1, len(outcomes))
    calls = sum(o.calls for o in outcomes)
    return Row(
        task=task, model=setup.model, config=setup.label, items=len(outcomes),
        accuracy=sum(o.correct for o in outcomes) / n,
        call_rate=sum(o.calls > 0 for o in outcomes) / n,
        malformed_rate=sum(o.failed_calls for o in outcomes) / calls if calls else 0.0,
        tokens=sum(o.tokens for o in outcomes) / n,
        seconds=sum(o.seconds for o in outcomes) / n,
    )


ItemRunner = Callable[[Setup], Iterator[ItemOutcome]]


def run_grid(task: str, setups: Iterable[Setup], run: ItemRunner, *, log: TextIO | None = None,
             on_row: Callable[[Row], None] | None = None) -> list[Row]:
    """Run every configuration; each outcome is written to `log` as a JSON line."""
    rows: list[Row] = []
    for setup in setups:
        outcomes: list[ItemOutcome] = []
        for item in run(setup):
            outcomes.append(item)
            if log is not None:
                record: dict[str, Any] = {"task": task, "model": setup.model, "config": setup.label, **asdict(item)}
                log.write(json.dumps(record) + "\n")
                log.flush()
        row = summarize(task, setup, outcomes)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
