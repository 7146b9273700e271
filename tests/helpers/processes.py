"""Looking at sandbox processes from the host, through /proc."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tools.python import Sandbox


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def settled(sb: Sandbox, seconds: float = 10.0) -> dict[int, int]:
    """The sandbox's live processes (pid → threads) once those on their way out are gone."""
    deadline = time.monotonic() + seconds
    while True:
        found = {pid: n for pid, n in sb.host_processes().items() if alive(pid)}
        if len(found) <= 2 or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def host_processes_with(marker: str) -> list[int]:
    """Host processes with a live thread whose command line contains `marker`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline and live_threads(int(name)):
                found.append(int(name))
    return found


def live_threads(pid: int) -> int:
    """Threads of `pid` not dead, as the host sees them (a zombie leader's count)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    count = 0
    for tid in tids:
        try:
            state = Path(f"/proc/{pid}/task/{tid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        count += state not in (b"Z", b"X")
    return count


def sandbox_tree(sb: Sandbox) -> dict[int, int]:
    """Every process under the sandbox's bubblewrap, found by walking the host's /proc
    (not through the sandbox's own bookkeeping): pid → live threads."""
    process = sb._process
    if process is None:
        return {}
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                parent = int(Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(name))
    found: dict[int, int] = {}
    queue = list(children.get(process.pid, []))
    while queue:
        pid = queue.pop()
        threads = live_threads(pid)
        if threads:
            found[pid] = threads
        queue.extend(children.get(pid, []))
    return found
