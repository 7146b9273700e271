"""Kill a real `agent run` process (SIGKILL and Ctrl-C) after some tasks finished,
resume it, and check that no finished task ran again and the run completes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODEL = "python:helpers.models:make_model"
pytestmark = pytest.mark.timeout(180)


def environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "INTERLEAF_HOME": str(tmp_path / "home"),
        "INTERLEAF_TEST_LOG": str(tmp_path / "executions.log"),
        "INTERLEAF_TEST_DELAY": "0.4",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT), env.get("PYTHONPATH", "")]),
    })
    env.pop("INTERLEAF_MODEL", None)
    return env


def agent(*argv: str) -> list[str]:
    return [sys.executable, "-m", "agent.cli", *argv]


def query(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    db = tmp_path / "home" / "runs.sqlite3"
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def wait_for_done_tasks(tmp_path: Path, proc: subprocess.Popen[bytes], count: int, *, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = query(tmp_path, "SELECT COUNT(*) FROM tasks WHERE status = 'done'")
        if done and int(done[0][0]) >= count:  # type: ignore[call-overload]
            return
        assert proc.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} tasks finished in {timeout} s")


def executions(tmp_path: Path) -> Counter[str]:
    log = tmp_path / "executions.log"
    return Counter(log.read_text(encoding="utf-8").splitlines()) if log.exists() else Counter()


def start(tmp_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        agent("run", "plan a trip", "--model", MODEL, "--tools", "", "--max-tasks", "6", "--json"),
        env=environment(tmp_path), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def resume_and_check(tmp_path: Path, finished_before: set[str]) -> None:
    run_id = str(query(tmp_path, "SELECT id FROM runs")[0][0])
    result = subprocess.run(agent("resume", run_id[:6], "--json"), env=environment(tmp_path), cwd=tmp_path,
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    assert query(tmp_path, "SELECT status, phase FROM runs") == [("finished", "finished")]
    tasks = query(tmp_path, "SELECT text, status FROM tasks")
    assert tasks and all(status == "done" for _, status in tasks)
    counts = executions(tmp_path)
    for text in finished_before:
        assert counts[text] == 1, f"{text!r} ran {counts[text]} times"
    assert {str(text) for text, _ in tasks} == set(counts)
    assert sum(counts.values()) - len(tasks) <= 1
    assert b'"type": "objective_finished"' in result.stdout


def test_sigkill_then_resume_redoes_no_finished_task(tmp_path: Path) -> None:
    proc = start(tmp_path)
    try:
        wait_for_done_tasks(tmp_path, proc, 2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finished_before = {str(r[0]) for r in query(tmp_path, "SELECT text FROM tasks WHERE status = 'done'")}
    assert len(finished_before) >= 2
    assert query(tmp_path, "SELECT status FROM runs") == [("running",)]
    listed = subprocess.run(agent("runs", "--json"), env=environment(tmp_path), capture_output=True, text=True)
    run = json.loads(listed.stdout)
    assert run["status"] == "interrupted" and f"process {proc.pid} ended" in run["detail"]
    shown = subprocess.run(agent("show", run["id"]), env=environment(tmp_path), capture_output=True, text=True)
    assert "interrupted" in shown.stdout and "running" not in shown.stdout, shown.stdout
    resume_and_check(tmp_path, finished_before)


def test_ctrl_c_saves_and_prints_the_resume_command(tmp_path: Path) -> None:
    proc = start(tmp_path)
    try:
        wait_for_done_tasks(tmp_path, proc, 1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    run_id = str(query(tmp_path, "SELECT id FROM runs")[0][0])
    assert f"agent resume {run_id}" in err.decode()
    assert "Traceback" not in err.decode()
    assert query(tmp_path, "SELECT status FROM runs") == [("interrupted",)]
    assert not query(tmp_path, "SELECT id FROM tasks WHERE status = 'running'")
    finished_before = {str(r[0]) for r in query(tmp_path, "SELECT text FROM tasks WHERE status = 'done'")}
    resume_and_check(tmp_path, finished_before)
