"""A sandbox ends with its host: when the process that made it dies without ending it
(SIGKILL), nothing of the sandbox stays, frozen between calls or in the middle of one,
and its control groups are removed. Judged from the host's /proc and cgroup tree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest

from helpers.processes import alive
from test_sandbox_containment import MODES
from tools.python.cgroups import Mode

pytestmark = pytest.mark.timeout(120)

HOST = """
import json, os, sys, threading, time
from tools.python import Sandbox, SandboxLimits
from tools.python.containment import descendants
mode, busy = sys.argv[1], sys.argv[2] == "busy"
if mode == "unisolated":
    sb = Sandbox(limits=SandboxLimits(timeout=60), unisolated=True)
else:
    sb = Sandbox(limits=SandboxLimits(timeout=60), cgroups=mode)
sb.run("import subprocess, sys; x = 1")
process = sb._process
groups = process.containment.cgroups if process.containment is not None else None
record = {
    "bwrap": process.pid, "init": process.init_pid, "reaper": getattr(process, "_reaper", None) and process._reaper.pid,
    "groups": [str(g.path) for g in groups.groups] if groups is not None else [],
}
if len(sys.argv) > 3 and os.fork() == 0:  # a child of the host that lives on
    time.sleep(60)
    os._exit(0)
def report():
    record["sandbox"] = descendants(process.pid)
    print(json.dumps(record), flush=True)
if busy:  # killed in the middle of a call that has started a process of its own
    threading.Timer(1.0, report).start()
    sb.run("p = subprocess.Popen([sys.executable, '-c', 'while True: pass']); sum(1 for _ in iter(int, 1))")
else:  # killed between calls: the sandbox is frozen (or stopped)
    report()
    threading.Event().wait()
"""


def bwrap_children(parent: int) -> list[int]:
    """Live processes running bubblewrap whose parent is `parent`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_bytes()
            except OSError:
                continue
            comm, rest = stat.split(b"(", 1)[1].rsplit(b")", 1)
            if comm == b"bwrap" and int(rest.split()[1]) == parent and alive(int(name)):
                found.append(int(name))
    return found


@pytest.mark.parametrize("state", ["between calls", "busy"])
@pytest.mark.parametrize("mode", [*MODES, "unisolated"])
def test_the_sandbox_dies_with_its_host(mode: Mode | str, state: str, isolation: None) -> None:
    """`unisolated`: the interpreter and what it started, in a process group of their own."""
    killed_host_leaves_nothing(mode, state)


@pytest.mark.parametrize("mode", MODES)
def test_a_child_forked_by_the_host_does_not_keep_the_sandbox(mode: Mode, isolation: None) -> None:
    killed_host_leaves_nothing(mode, "between calls", "fork")


def killed_host_leaves_nothing(mode: str, state: str, *extra: str) -> None:
    root = Path(__file__).resolve().parents[1]
    host = subprocess.Popen(
        [sys.executable, "-c", HOST, mode, "busy" if state == "busy" else "idle", *extra],
        stdout=subprocess.PIPE, cwd=root, start_new_session=True,
    )
    assert host.stdout is not None
    try:
        record = json.loads(host.stdout.readline())
    finally:
        host.kill()
        host.wait()
    try:
        check_nothing_left(host.pid, mode, state, record)
    finally:
        with suppress(OSError):  # the forked child, if any
            os.killpg(host.pid, signal.SIGKILL)


def check_nothing_left(host: int, mode: str, state: str, record: dict[str, Any]) -> None:
    pids = [record["bwrap"], *record["sandbox"]] + [record[key] for key in ("init", "reaper") if record[key]]
    expected = (3 if state == "busy" else 2) - 2 * (mode == "unisolated")
    assert len(record["sandbox"]) >= expected, record
    assert bool(record["groups"]) == (mode not in ("off", "unisolated"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = [pid for pid in pids if alive(pid)] + bwrap_children(host)
        groups = [g for g in record["groups"] if os.path.exists(g)]
        if not left and not groups:
            break
        time.sleep(0.05)
    assert not left, {pid: Path(f"/proc/{pid}/stat").read_text() for pid in left if alive(pid)}
    assert not groups
