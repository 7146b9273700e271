from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from agent.cli import main
from agent.cli.commands import Consoles
from agent.events import StopReason
from agent.tasks.state import ObjectiveOptions, TaskStatus
from agent.tasks.store import DB_NAME, ObjectiveStore


def export(home: Path, *argv: str) -> list[dict[str, object]]:
    out = io.StringIO()
    consoles = Consoles(Console(file=out, width=100), Console(file=io.StringIO(), width=100))
    assert main(["export", *argv, "--home", str(home)], consoles=consoles) == 0
    return [json.loads(line) for line in out.getvalue().splitlines() if line]


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    store = ObjectiveStore(tmp_path / DB_NAME)
    run = store.create_run("plan a picnic", model="scripted", options=ObjectiveOptions())
    tasks = store.add_tasks(run.id, ["count the guests", "price the food", "book a park"], origin="plan")
    store.update_task(run.id, tasks[0].id, status=TaskStatus.DONE, result="We are [Calculator(3 + 4) → 7] 7 people.")
    store.update_task(run.id, tasks[1].id, status=TaskStatus.DONE,
                      result="Food costs [Search(picnic prices) → Error: web search unavailable] a lot.")
    store.update_task(run.id, tasks[2].id, status=TaskStatus.FAILED, result="")
    store.update_run(run.id, stop_reason=StopReason.DONE, answer="Seven people, sandwiches, the park.")
    store.close()
    return tmp_path


def test_pairs_keep_clean_finished_work_only(home: Path) -> None:
    pairs = export(home, "pairs")
    assert pairs == [
        {"instruction": "Objective: plan a picnic\n\nTask: count the guests",
         "output": "We are [Calculator(3 + 4) → 7] 7 people.", "calls": 1},
        {"instruction": "plan a picnic", "output": "Seven people, sandwiches, the park.", "calls": 0},
    ]


@pytest.mark.model
def test_calls_are_judged_by_the_packaged_model(home: Path) -> None:
    lines = export(home, "calls", "--tau", "-100")
    assert len(lines) == 1
    verdict = lines[0]["calls"][0]  # type: ignore[index]
    assert verdict["name"] == "Calculator" and verdict["kept"] is True
    assert lines[0]["text"] == "We are [Calculator(3 + 4) → 7] 7 people."
