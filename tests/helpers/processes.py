"""Looking at sandbox processes from the host, through /proc."""

from __future__ import annotations

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
