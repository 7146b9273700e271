"""The live view in a real pseudo-terminal: Ctrl-C during a task says at once that the
run is stopping; the approval question is asked inside the view, and Ctrl-C there stops
at once; `--json` announces a call that waits for approval (asked on stderr); the
footer counts calls and tokens as they happen and ends at the saved totals."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

ROOT = Path(__file__).resolve().parent.parent
AGENT = str(Path(sys.executable).parent / "agent")
MODEL = "python:helpers.models:make_model"
pytestmark = pytest.mark.timeout(120)


def spawn(tmp_path: Path, *argv: str, columns: int = 120, **env: str) -> pexpect.spawn:
    values = dict(os.environ)
    values.update({"INTERLEAF_HOME": str(tmp_path / "home"), "TERM": "xterm-256color",
                   "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)]), **env})
    values.pop("INTERLEAF_MODEL", None)
    # Ctrl-C makes the terminal drop the output it holds, at times in the middle of a character.
    return pexpect.spawn(AGENT, list(argv), env=values, cwd=str(tmp_path), dimensions=(40, columns),
                         encoding="utf-8", codec_errors="replace", timeout=60)


def ended(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return int(child.exitstatus if child.exitstatus is not None else -1)


def test_ctrl_c_during_a_task_says_stopping_before_the_task_ends(tmp_path: Path) -> None:
    child = spawn(tmp_path, "run", "plan a trip", "--model", MODEL, "--tools", "", "--max-tasks", "3",
                  INTERLEAF_TEST_DELAY="3", INTERLEAF_TEST_LOG=str(tmp_path / "log"))
    child.expect("Task 1: book the flights")
    child.sendintr()
    index = child.expect(["stopping…", "Stopped; the run is saved"])
    assert index == 0, "the stop message came before any feedback"
    child.expect(r"Resume it with: agent resume ([0-9a-f]{8})")
    run_id = child.match.group(1)
    assert ended(child) == 130
    resumed = spawn(tmp_path, "resume", run_id, "--quiet")
    resumed.expect("The final answer.")
    assert ended(resumed) == 0


def test_ctrl_c_during_a_tool_call_says_stopping_at_once_and_a_second_quits_cleanly(tmp_path: Path) -> None:
    child = spawn(tmp_path, "run", "plan a trip", "--model", MODEL, "--tools", "Python", "--max-tasks", "2",
                  INTERLEAF_TEST_CALL="[Python(code='import time; time.sleep(30)')]")
    child.expect(r"time\.sleep\(30\)")
    time.sleep(1.0)  # the call is running in the sandbox
    asked = time.monotonic()
    child.sendintr()
    child.expect("stopping…")
    assert time.monotonic() - asked < 0.5
    asked = time.monotonic()
    child.sendintr()
    assert ended(child) == 130
    assert time.monotonic() - asked < 5
    said = child.before
    assert said.count("Stopped; the run is saved") == 1, said
    assert "Traceback" not in said and "Task was destroyed" not in said, said
    run_id = re.findall(r"Resume it with: agent resume ([0-9a-f]{8})", said)[-1]
    resumed = spawn(tmp_path, "resume", run_id, "--quiet")
    resumed.expect("The final answer.")
    assert ended(resumed) == 0


def test_runs_in_an_80_column_terminal_keeps_the_objective_readable(tmp_path: Path) -> None:
    objective = "plan a long trip through the mountains of Japan with three friends in spring"
    assert ended(spawn(tmp_path, "run", objective, "--model", MODEL, "--tools", "", "--max-tasks", "1",
                       "--quiet")) == 0
    listed = spawn(tmp_path, "runs", columns=80)
    assert ended(listed) == 0
    lines = [re.sub(r"\x1b\[[\d;?]*[A-Za-z]", "", line) for line in listed.before.splitlines()]
    assert all(len(line) <= 80 for line in lines), lines
    assert "plan a long trip" in listed.before and "max_tasks" in listed.before, lines


def test_ctrl_c_at_an_approval_prompt_declines_and_stops_at_once(tmp_path: Path) -> None:
    child = spawn(tmp_path, "run", "plan a trip", "--model", MODEL, "--tools", "Calendar", "--approve", "all",
                  "--max-tasks", "3", INTERLEAF_TEST_CALL="[Calendar()]")
    child.expect("Approval")  # the question is a panel of the live view
    child.expect(r"Calendar\(\)")
    child.expect("y/N")
    child.send("y")
    child.expect(r"y/N\] y")  # what is typed shows in the view
    child.send("\r")
    child.expect("Task 2")
    child.expect("y/N")
    child.sendintr()
    child.expect("stopping…")
    child.expect("Resume it with: agent resume")
    assert ended(child) == 130
    with closing(sqlite3.connect(tmp_path / "home" / "runs.sqlite3")) as db:
        results = dict(db.execute("SELECT id, result FROM tasks").fetchall())
    assert "[Calendar() → Today is" in results[1]  # the approved call ran


def test_json_announces_a_call_that_waits_for_approval(tmp_path: Path) -> None:
    child = spawn(tmp_path, "run", "plan a trip", "--model", MODEL, "--tools", "Calendar", "--approve", "all",
                  "--max-tasks", "1", "--json", INTERLEAF_TEST_CALL="[Calendar()]")
    child.expect(r'\{"type": "approval_requested".*\}')
    event = json.loads(child.match.group(0).splitlines()[0])
    assert event == {"type": "approval_requested", "tool": "Calendar", "arguments": {}}
    child.expect("y/N")
    child.sendline("n")
    child.expect("the user declined this call")
    assert ended(child) == 0


def styled(text: str) -> str:
    """A pattern for `text` as the terminal shows it, styles switching anywhere in it."""
    return r"(?:\x1b\[[\d;]*m)*".join(re.escape(c) for c in text)


FOOTER = re.compile(r"tokens ([\d,]+) \(([\d,]+) out\)  ·  calls (\d+)  ·  tasks (\d+)")


def test_the_footer_counts_calls_and_tokens_as_they_happen_and_ends_at_the_saved_totals(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    child = spawn(tmp_path, "run", "plan a trip", "--model", MODEL, "--tools", "Calendar", "--max-tasks", "2",
                  INTERLEAF_TEST_CALL="[Calendar()]", INTERLEAF_TEST_GATE=str(gate))
    # The first task's call has finished; the task waits on the gate, so it has not ended.
    child.expect(r"calls 1  ·  tasks 0")
    with closing(sqlite3.connect(tmp_path / "home" / "runs.sqlite3")) as db:
        status, saved = db.execute("SELECT t.status, r.totals FROM tasks t JOIN runs r ON r.id = t.run_id "
                                   "WHERE t.id = 1").fetchone()
    assert status == "running"
    assert json.loads(saved)["tool_calls"] == 0  # saved only when the task ends
    child.expect(FOOTER)
    live_out = int(child.match.group(2).replace(",", ""))
    assert live_out > json.loads(saved)["completion_tokens"]  # the task's text so far counts
    gate.touch()
    # What each task wrote stays on the screen once the view closes (its last frame is above).
    child.expect(styled("1. Result of book the flights: [Calendar() → Today is"))
    shown = child.before
    child.expect(styled("2. Result of find a hotel"))
    child.expect(r"· run ([0-9a-f]{8})")
    run_id = child.match.group(1)
    assert ended(child) == 0
    last = FOOTER.findall(shown)[-1]
    listed = subprocess.run([AGENT, "show", run_id, "--json"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "INTERLEAF_HOME": str(tmp_path / "home")})
    totals = json.loads(listed.stdout)["totals"]
    assert [int(n.replace(",", "")) for n in last] == [
        totals["prompt_tokens"] + totals["completion_tokens"], totals["completion_tokens"], totals["tool_calls"],
        totals["tasks_run"]]
    assert totals["tool_calls"] == 2 and totals["tasks_run"] == 2
