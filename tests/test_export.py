from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from agent.cli import main
from agent.cli.commands import Consoles
from agent.events import CallRecord, Part, RunFinished, RunResult, Spliced, StopReason
from agent.models.base import Usage
from agent.support import supported, uses
from agent.tasks.events import TaskOutput, to_json
from agent.tasks.state import ObjectiveOptions, TaskStatus
from agent.tasks.store import DB_NAME, ObjectiveStore


def export(home: Path, *argv: str) -> tuple[list[dict[str, object]], str]:
    out, err = io.StringIO(), io.StringIO()
    consoles = Consoles(Console(file=out, width=100), Console(file=err, width=100))
    assert main(["export", *argv, "--home", str(home)], consoles=consoles) == 0
    return [json.loads(line) for line in out.getvalue().splitlines() if line], err.getvalue()


def call(result: str | None, error: str | None = None, raw: str = "3 + 4") -> CallRecord:
    shown = f"Error: {error}" if error else result
    return CallRecord(0, "Calculator", raw, f"[Calculator({raw}) → {shown}]", result=result, error=error)


def finished_task(store: ObjectiveStore, run_id: str, task_id: int, *parts: Part) -> None:
    text = "".join(p if isinstance(p, str) else p.text for p in parts)
    calls = tuple(p for p in parts if isinstance(p, CallRecord))
    result = RunResult(text, calls, Usage(), StopReason.END, "", 0.0, parts=parts)
    store.update_task(run_id, task_id, status=TaskStatus.DONE, result=text)
    store.append_event(run_id, to_json(TaskOutput(task_id, RunFinished(result))))


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    store = ObjectiveStore(tmp_path / DB_NAME)
    run = store.create_run("plan a picnic", model="scripted", options=ObjectiveOptions())
    tasks = store.add_tasks(run.id, ["count the guests", "price the food", "guess the weather", "book a park",
                                     "count the chairs"], origin="plan")
    finished_task(store, run.id, tasks[0].id, "We are ", call("7"), " 7 people.")
    # A failed call fed this answer; its text does not say "Error:" (a tool's own words).
    finished_task(store, run.id, tasks[1].id, "Food costs ", call(None, "no prices known", "food"), " 40 euros.")
    finished_task(store, run.id, tasks[2].id, "It will be sunny.")  # no call, no check: the model's guess
    store.update_task(run.id, tasks[3].id, status=TaskStatus.FAILED, result="")
    finished_task(store, run.id, tasks[4].id, "We need ", call("12"), " a lot of chairs.")  # result unused
    store.update_run(run.id, stop_reason=StopReason.DONE, answer="Seven people, sandwiches, the park.")
    store.close()
    return tmp_path


def test_pairs_keep_only_answers_a_check_backs(home: Path) -> None:
    pairs, said = export(home, "pairs")
    assert pairs == [
        {"instruction": "Objective: plan a picnic\n\nTask: count the guests",
         "output": "We are [Calculator(3 + 4) → 7] 7 people.", "calls": 1},
    ]
    assert "1 pairs" in said


@pytest.mark.parametrize(("parts", "backed"), [
    (("We are ", call("7"), " 7 people."), True),
    (("That is ", call("0.285714", raw="400 / 1400"), " 29% of them."), True),
    (("Total ", call("12345.67"), " is 12,345.67 euros."), True),
    (("Paris is ", CallRecord(0, "Search", "capital of Peru", "", result="Lima is the capital of Peru"),
      " Lima."), True),
    (("Ask ", CallRecord(0, "Search", "capital of Peru", "", result="Lima is the capital of Peru"),
      " about Peru."), False),
    (("We are ", call("7"), " many."), False),
    (("It is sunny.",), False),
    (("Equal ", Spliced("= 7"), " indeed."), True),
    (("We are ", call("7"), " 7 and ", call(None, "boom"), " more."), False),
])
def test_a_check_backs_an_answer_from_its_parts(parts: tuple[Part, ...], backed: bool) -> None:
    assert supported(parts) is backed


def test_a_result_is_used_when_its_number_or_a_new_word_comes_back() -> None:
    assert uses("2/7 ≈ 0.285714", "about 28.57 percent")
    assert not uses("Lima", "Peru", before="Lima")


@pytest.mark.model
def test_calls_are_judged_by_the_packaged_model_and_the_work_is_told(home: Path) -> None:
    lines, said = export(home, "calls", "--tau", "-100")
    assert len(lines) == 1
    verdict = lines[0]["calls"][0]  # type: ignore[index]
    assert verdict["name"] == "Calculator" and verdict["kept"] is True
    assert lines[0]["text"] == "We are [Calculator(3 + 4) → 7] 7 people."
    assert "loading smollm2-135m" in said and "judging 1 calls in 1 answers" in said
    assert "judged 1/1 answers (1 of 1 calls kept)" in said and "done: 1 of 1" in said
