"""Batches on local worker processes: the same runs as one after the other in one
process, a killed worker's item retried elsewhere, an item that kills its worker twice
recorded as failed, the batch file's items and its ledger."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
from batch_cases import FRAGILE, LINES, batched, load_arithmetic_model, probe, sequential, summary, write_items
from helpers.batch import wait_for_pid

from agent.batch import start
from agent.batch.driver import ItemRetried, missing
from agent.batch.evals import eval_units, run_units
from agent.batch.items import Defaults, read_items
from agent.batch.ledger import DONE, FAILED, ItemRecord, Ledger
from agent.batch.local import local_pool
from agent.cli.batch import load_worker_model
from agent.errors import ConfigError
from agent.evals import arithmetic
from agent.evals.runner import Setup
from agent.tasks import ObjectiveOptions, ObjectiveStatus, ObjectiveStore

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def faults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "faults"
    folder.mkdir()
    monkeypatch.setenv("INTERLEAF_TEST_FAULTS", str(folder))
    tests = str(Path(__file__).parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]))
    return folder


def test_a_batch_stores_the_same_runs_as_running_each_item_alone(tmp_path: Path, faults: Path) -> None:
    items = write_items(tmp_path)
    alone = sequential(items, ObjectiveStore(tmp_path / "alone.db"))
    store = ObjectiveStore(tmp_path / "runs.db")
    ended, _ = batched(items, local_pool(load_worker_model, workers=2, cpus=1), store)
    assert [summary(store, e.run.id) for e in ended] == alone
    assert [e.record.status for e in ended] == [DONE] * len(LINES)
    assert {r.id for r in store.runs()} == {e.run.id for e in ended}
    assert all(store.run(e.run.id).pid is None for e in ended)


def test_each_worker_process_loads_its_model_once_and_has_its_share_of_threads(faults: Path) -> None:
    seen = probe(local_pool(load_worker_model, workers=2, cpus=1))
    assert len(seen) == 2 and all(reports == {(1, 1)} for reports in seen.values())


def test_a_killed_worker_s_item_runs_again_elsewhere_and_one_that_always_kills_fails(
        tmp_path: Path, faults: Path) -> None:
    lines = ('{"objective": "hang once, then answer"}', '{"objective": "always crash"}',
             '{"objective": "an easy one"}')
    items = write_items(tmp_path, lines, model=FRAGILE)
    items = [i.__class__(i.line, i.key, i.objective, i.model, ObjectiveOptions(tools=(), single=True)) for i in items]
    killer = threading.Thread(target=lambda: os.kill(wait_for_pid(faults), signal.SIGKILL), daemon=True)
    killer.start()
    store = ObjectiveStore(tmp_path / "runs.db")
    ended, events = batched(items, local_pool(load_worker_model, workers=2, cpus=1), store)
    killer.join(timeout=5)
    hung, crashed, easy = ended
    assert (hung.record.status, hung.record.attempts, hung.run.answer) == (DONE, 2, "Result of hang once, then answer.")
    retried = [e for e in events if isinstance(e, ItemRetried)]
    assert {e.item.line for e in retried} == {1, 2}
    assert any("SIGKILL" in e.reason for e in retried if e.item.line == 1)
    assert (crashed.record.status, crashed.record.attempts) == (FAILED, 2)
    assert "failed 2 times" in crashed.record.reason and "exit code 3" in crashed.record.reason
    assert store.run(crashed.run.id).status is ObjectiveStatus.FAILED
    assert store.run(crashed.run.id).detail == crashed.record.reason
    assert easy.record.status == DONE and easy.record.attempts == 1


def test_eval_items_on_worker_processes_give_a_local_run_s_outcomes_in_its_order(faults: Path) -> None:
    problems = arithmetic.load_problems()[:9]
    setups = [Setup("scripted"), Setup("scripted", grammar=False)]
    local = [[(o.item, o.correct, o.calls, o.predicted, o.text, o.stop)
              for o in arithmetic.run(setup, load_arithmetic_model("scripted", 1), problems)] for setup in setups]
    seen: list[str] = []
    pooled = list(run_units(eval_units(arithmetic.TASK, setups, problems),
                            local_pool(load_arithmetic_model, workers=2, cpus=1),
                            on_outcome=lambda unit, outcome: seen.append(unit.key)))
    by_setup = dict(pooled)  # each configuration once, as soon as its items are in: either may finish first
    assert len(pooled) == len(setups) and set(by_setup) == set(setups)
    assert [[(o.item, o.correct, o.calls, o.predicted, o.text, o.stop) for o in by_setup[setup]]
            for setup in setups] == local
    assert {c for row in local for _, c, *_ in row} == {True, False} and len(seen) == 18


def test_batch_lines_are_checked_and_keyed_by_their_content(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"objective": "a", "max_tasks": 2, "tools": "Calculator"}\n\n# note\n{"objective": "a", '
                    '"max_tasks": 2, "tools": "Calculator"}\n{"objective": "b", "grammar": false}\n')
    first, second, third = read_items(path, Defaults(model="m"))
    assert (first.line, second.line, third.line) == (1, 4, 5)
    assert first.key != second.key and first.key.split("-")[0] == second.key.split("-")[0]
    assert first.options.limits.max_tasks == 2 and first.options.tools == ("Calculator",)
    assert third.options.overrides.grammar is False and third.model == "m"
    for bad, message in (('{"objective": ""}', "non-empty"), ('{"objective": "x", "colour": 1}', "unknown settings"),
                         ('{"objective": "x", "max_tasks": 0}', "above zero"), ("[1]", "JSON object"),
                         ('{"objective": "x", "single": "yes"}', "true or false")):
        path.write_text('{"objective": "fine"}\n' + bad + "\n")
        with pytest.raises(ConfigError, match=f"line 2: .*{message}"):
            read_items(path)


def test_the_ledger_knows_what_ended_in_the_last_batch_of_a_file(tmp_path: Path) -> None:
    items = write_items(tmp_path)
    ledger = Ledger(ObjectiveStore(tmp_path / "runs.db").path)
    file = tmp_path / "batch.jsonl"
    assert ledger.latest(file) is None
    batch = ledger.start(file)
    ledger.record(batch, ItemRecord(items[1].key, 2, DONE, "r1", "", 1, 0.5))
    ledger.record(batch, ItemRecord(items[2].key, 3, FAILED, "r2", "why", 2, 0.0))
    assert ledger.latest(file) == batch
    assert [i.line for i in missing(items, ledger, batch)] == [1, 4]


def test_asking_for_ray_without_it_runs_on_local_processes_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(start, "ray_available", lambda: False)
    pool, note = start.open_pool(load_worker_model, workers=3, ray=True)
    assert "Ray is not installed" in note and "interleaf[ray]" in note
    assert pool.description.startswith("a local process pool") and pool.size == 3


def test_the_progress_bar_counts_done_failed_and_throughput(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from agent.batch.driver import ItemEnded
    from agent.cli.batch import _show
    from agent.tasks.state import ObjectiveRecord, Phase, Totals

    items = write_items(tmp_path)
    run = ObjectiveRecord("r1", "x", "m", ObjectiveOptions(), ObjectiveStatus.FINISHED, Phase.FINISHED, None, "", "", Totals(), 0,
                    0.0, 0.0, None)
    events = [ItemEnded(items[0], ItemRecord(items[0].key, 1, DONE, "r1", "", 1, 0.1), run),
              ItemRetried(items[1], "the worker process was killed (SIGKILL)", "w1"),
              ItemEnded(items[1], ItemRecord(items[1].key, 2, FAILED, "r2", "failed 2 times", 2, 0.0), run)]
    err = Console(file=io.StringIO(), force_terminal=True, width=120)
    _show(iter(events), 4, Console(file=io.StringIO()), err, as_json=False)
    shown = err.file.getvalue()  # type: ignore[attr-defined]
    assert "2/4" in shown and "done 1" in shown and "failed 1" in shown and "items/min" in shown
    assert "line 2: retrying on another worker (the worker process was killed (SIGKILL))" in shown


def test_lines_printed_to_a_redirected_stdout_stay_there_under_the_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from agent.cli.progress import ItemsProgress

    stdout = io.StringIO()
    monkeypatch.setattr("sys.stdout", stdout)
    err = Console(file=io.StringIO(), force_terminal=True, width=120)
    with ItemsProgress(err, 2, label="eval") as progress:
        print("| arithmetic | m | agent defaults | 2 |")
        progress.ended(True)
    assert stdout.getvalue() == "| arithmetic | m | agent defaults | 2 |\n"
    assert "agent defaults" not in err.file.getvalue()  # type: ignore[attr-defined]
