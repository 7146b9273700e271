"""The `agent` command in-process, rendered to string consoles."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from agent.cli import main
from agent.cli.commands import Consoles
from agent.cli.output import LiveOutput
from agent.cli.view import RunView
from agent.events import CallFinished, CallRecord, CallStarted, TextDelta
from agent.markup import ParsedCall
from agent.tasks import (
    ObjectiveStarted, ObjectiveStatus, StopReason, Task, TaskFinished, TaskOutput, TasksPlanned, TaskStarted,
    TaskStatus, Totals,
)
from agent.tasks.events import ObjectiveFinished

MODEL = "python:helpers.models:make_model"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Captured:
    def __init__(self, *, terminal: bool = False) -> None:
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.consoles = Consoles(Console(file=self.out, width=100, force_terminal=terminal),
                                 Console(file=self.err, width=100, force_terminal=False))

    def __call__(self, *argv: str) -> int:
        return main(list(argv), consoles=self.consoles)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INTERLEAF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INTERLEAF_INDEX", str(tmp_path / "index.sqlite3"))
    monkeypatch.delenv("INTERLEAF_MODEL", raising=False)
    return tmp_path / "home"


def run_id_of(text: str) -> str:
    found = re.search(r"run ([0-9a-f]{8})", text)
    assert found, text
    return found.group(1)


def test_run_prints_plain_lines_when_not_a_terminal() -> None:
    cli = Captured()
    assert cli("run", "plan a trip", "--model", MODEL, "--tools", "", "--max-tasks", "3") == 0
    out = cli.out.getvalue()
    assert "plan:" in out and "task 1 started: book the flights" in out
    assert "answer:\nThe final answer." in out
    assert "stopped: max_tasks" in out
    assert "\x1b[" not in out


def test_run_json_lines() -> None:
    cli = Captured()
    assert cli("run", "plan a trip", "--model", MODEL, "--tools", "", "--max-tasks", "2", "--json") == 0
    events = [json.loads(line) for line in cli.out.getvalue().splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "run_started" and types[-1] == "objective_finished"
    assert "task_output" in types and events[-1]["answer"] == "The final answer."


def test_run_quiet_prints_only_the_answer() -> None:
    cli = Captured()
    assert cli("run", "plan a trip", "--model", MODEL, "--tools", "", "--max-tasks", "1", "--quiet") == 0
    assert cli.out.getvalue() == "The final answer.\n"


def test_single_mode() -> None:
    cli = Captured()
    assert cli("run", "what now", "--model", MODEL, "--tools", "", "--single", "-q") == 0
    assert cli.out.getvalue() == "Result of what now.\n"


def test_live_output_on_a_terminal_ends_with_markdown_answer() -> None:
    cli = Captured(terminal=True)
    assert cli("run", "plan a trip", "--model", MODEL, "--tools", "", "--max-tasks", "2") == 0
    plain = ANSI.sub("", cli.out.getvalue())
    assert "Tasks" in plain and "book the flights" in plain and "Answer" in plain
    assert "The final answer." in plain and "model scripted-objective" not in plain or "calls" in plain


def test_runs_and_show() -> None:
    cli = Captured()
    cli("run", "plan a trip", "--model", MODEL, "--tools", "", "--max-tasks", "2")
    run_id = run_id_of(cli.out.getvalue())
    listing = Captured()
    assert listing("runs") == 0
    assert run_id in listing.out.getvalue() and "finished" in listing.out.getvalue()
    shown = Captured()
    assert shown("show", run_id[:5]) == 0
    text = shown.out.getvalue()
    assert "plan a trip" in text and "Result of book the flights." in text and "The final answer." in text
    as_json = Captured()
    assert as_json("show", run_id, "--json") == 0
    data = json.loads(as_json.out.getvalue())
    assert data["status"] == "finished" and len(data["tasks"]) == 2 and data["events"]


def test_resume_of_a_finished_run_is_one_clear_line() -> None:
    cli = Captured()
    cli("run", "plan a trip", "--model", MODEL, "--tools", "", "--max-tasks", "1")
    run_id = run_id_of(cli.out.getvalue())
    again = Captured()
    assert again("resume", run_id) == 1
    assert again.err.getvalue().count("\n") == 1 and "already finished" in again.err.getvalue()


@pytest.mark.parametrize(("argv", "code", "needle"), [
    (["run", "x", "--model", "no-such-model"], 1, "unknown model 'no-such-model'"),
    (["run", "x", "--model", "python:nowhere:nothing"], 1, "unknown model"),
    (["run", "x", "--max-tasks", "0"], 2, "must be above zero"),
    (["run", "x", "--approve", "sometimes"], 2, "invalid choice"),
    (["run", "x", "--model", MODEL, "--tools", "Nope"], 1, "unknown tool 'Nope'"),
    (["run", "x", "--frobnicate"], 2, "unrecognized arguments"),
    (["show", "deadbeef"], 1, "no run 'deadbeef'"),
    (["resume", "deadbeef"], 1, "no run 'deadbeef'"),
    (["run", "   ", "--model", MODEL, "--tools", ""], 1, "the objective is empty"),
    (["index"], 2, "required"),
])
def test_user_errors_are_one_line_without_traceback(argv: list[str], code: int, needle: str) -> None:
    cli = Captured()
    assert cli(*argv) == code
    err = cli.err.getvalue()
    assert needle in err and "Traceback" not in err
    assert err.strip().count("\n") == 0


def test_tools_lists_installed_tools() -> None:
    cli = Captured()
    assert cli("tools") == 0
    assert "Calendar()" in cli.out.getvalue()


def test_models_lists_the_registry() -> None:
    cli = Captured()
    assert cli("models") == 0
    assert "smollm2-135m" in cli.out.getvalue() and "openai:" in cli.out.getvalue()


def test_index_add_and_search(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lisbon.md").write_text("# Lisbon\n\nThe tram 28 crosses the Alfama district.\n")
    cli = Captured()
    assert cli("index", "add", str(docs)) == 0
    assert "1 added" in cli.out.getvalue()
    found = Captured()
    assert found("index", "search", "tram", "Alfama") == 0
    assert "Lisbon" in found.out.getvalue()
    missing = Captured()
    assert missing("index", "add", str(tmp_path / "nope")) == 1


def test_approval_prompt_reads_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from agent.cli.approval import prompt_approval
    from agent.cli.output import PlainOutput

    cli = Captured()
    ask = prompt_approval(cli.consoles.err, PlainOutput(cli.out), threading.Event())
    monkeypatch.setattr("sys.stdin", io.StringIO("y\nno\n"))
    assert ask("Search", {"query": "lisbon"}) is True
    assert ask("Search", {"query": "porto"}) is False
    assert "Allow Search(query='lisbon')" in cli.err.getvalue() and "Run it? [y/N]" in cli.err.getvalue()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert ask("Search", {"query": "x"}) is False


def _view_events() -> list[object]:
    task = Task(id=1, text="check the weather", position=1)
    call = ParsedCall.of("Search", "weather Lisbon")
    record = CallRecord(0, "Search", "weather Lisbon", "[Search(weather Lisbon) → sunny]", result="sunny")
    return [
        ObjectiveStarted("abcd1234", "plan a trip", "tiny-model", False),
        TasksPlanned((task, Task(id=2, text="book a hotel", position=2))),
        TaskStarted(Task(id=1, text="check the weather", position=1, status=TaskStatus.RUNNING)),
        TaskOutput(1, TextDelta("It will be ")),
        TaskOutput(1, CallStarted(0, call)),
        TaskOutput(1, CallFinished(record)),
        TaskOutput(1, TextDelta(" tomorrow.")),
    ]


def test_live_view_renders_tasks_stream_and_footer() -> None:
    view = RunView(clock=0.0)
    for event in _view_events():
        view.handle(event)  # type: ignore[arg-type]
    console = Console(file=io.StringIO(), width=100, force_terminal=True, color_system="truecolor")
    console.print(view.render(now=75.0))
    raw = console.file.getvalue()  # type: ignore[attr-defined]
    plain = ANSI.sub("", raw)
    assert "Objective: plan a trip" in plain
    assert "check the weather" in plain and "running" in plain and "pending" in plain
    assert "Task 1: check the weather" in plain
    assert "It will be [Search(weather Lisbon) → sunny] tomorrow." in plain
    assert "model tiny-model" in plain and "elapsed 1:15" in plain and "calls 0" in plain
    assert "\x1b[" in raw


def test_live_view_shows_a_pending_call_and_finishes() -> None:
    view = RunView(clock=0.0)
    for event in _view_events()[:5]:
        view.handle(event)  # type: ignore[arg-type]
    console = Console(file=io.StringIO(), width=100, force_terminal=False)
    console.print(view.render(now=1.0))
    assert "[Search(weather Lisbon) …]" in console.file.getvalue()  # type: ignore[attr-defined]
    done = Task(id=1, text="check the weather", position=1, status=TaskStatus.DONE, result="sunny")
    view.handle(TaskFinished(done, Totals(tasks_run=1, tool_calls=1, completion_tokens=12, prompt_tokens=30)))
    view.handle(ObjectiveFinished("abcd1234", ObjectiveStatus.FINISHED, StopReason.EMPTY, "no task is left",
                                  "# Plan", Totals(tasks_run=1, tool_calls=1, seconds=3.0)))
    console = Console(file=io.StringIO(), width=100, force_terminal=False)
    console.print(view.render(now=2.0))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "done" in text and "calls 1" in text and "Task 1:" not in text


def test_live_output_prints_the_answer_as_markdown() -> None:
    console = Console(file=io.StringIO(), width=80, force_terminal=True)
    with LiveOutput(console, refresh_per_second=4) as live:
        live.handle(ObjectiveStarted("abcd1234", "plan", "m", False))
        live.handle(ObjectiveFinished("abcd1234", ObjectiveStatus.FINISHED, StopReason.EMPTY, "x",
                                      "# Day one\n\n- **Alfama**", Totals()))
    plain = ANSI.sub("", console.file.getvalue())  # type: ignore[attr-defined]
    assert "Day one" in plain and "• Alfama" in plain and "**" not in plain


def test_show_highlights_completed_calls() -> None:
    from agent.cli.render import highlight_calls
    from agent.parts import parts_of

    text = highlight_calls(parts_of("It is [Calendar() → Monday] and [Search(x) → Error: offline] now."))
    assert text.plain == "It is [Calendar() → Monday] and [Search(x) → Error: offline] now."
    styles = {str(span.style) for span in text.spans}
    assert "bold green" in styles and "bold red" in styles


def test_a_failing_model_ends_with_one_line_and_a_resume_hint() -> None:
    cli = Captured()
    assert cli("run", "plan a trip", "--model", "python:helpers.models:make_broken_model", "--tools", "") == 1
    err = cli.err.getvalue()
    assert "the run failed: ConnectionError: the server is down" in err and "agent resume" in err
    assert "Traceback" not in err


def test_eval_hands_its_arguments_to_the_harness_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.cli import evals

    seen: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        seen.append(argv)
        return 0

    monkeypatch.setattr(evals, "main", fake_main)
    assert Captured()("eval", "arithmetic", "--limit", "3", "--help") == 0
    assert seen == [["arithmetic", "--limit", "3", "--help"]]


def test_decoding_flags_are_kept_with_the_run_and_reach_the_agent() -> None:
    cli = Captured()
    assert cli("run", "what now", "--model", MODEL, "--single", "--json", "--no-grammar", "--trigger", "0",
               "--examples", "1", "--check-arithmetic") == 0
    run_id = json.loads(cli.out.getvalue().splitlines()[0])["run_id"]
    shown = Captured()
    assert shown("show", run_id, "--json") == 0
    overrides = json.loads(shown.out.getvalue())["options"]["overrides"]
    assert overrides == {"grammar": False, "trigger_k": 0, "examples": 1, "check_arithmetic": True}


def test_load_options_do_not_apply_to_a_factory_model() -> None:
    cli = Captured()
    assert cli("run", "what now", "--model", MODEL, "--n-ctx", "512") != 0
    assert "--n-ctx" in cli.err.getvalue()
